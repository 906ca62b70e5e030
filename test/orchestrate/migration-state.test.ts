import { describe, expect, it } from "vitest";
import {
  type GuestNow,
  MIGRATION_API_EVERY_MS,
  MIGRATION_POLL_MS,
  migrationState,
  nextMigrationLook,
} from "../../lib/orchestrate/worker.ts";

// When does the target's worker switch, give up, or keep waiting? From
// immediate data only: the config file's node and the live status here
// (qemu-server QemuMigrate::phase3_cleanup: move config -> resume on the
// target -> stop source -> free local disks -> unlock).

const source = (over: Partial<GuestNow> = {}): GuestNow => ({ node: "pve1", migrating: false, ...over });
const here = (over: Partial<GuestNow> = {}): GuestNow => ({ node: "pve2", migrating: false, ...over });

describe("migrationState (worker on pve2, migration from pve1)", () => {
  const cases: Array<[string, GuestNow | undefined, ReturnType<typeof migrationState>]> = [
    ["phase1/phase2: config on the source, migrate lock held", source({ migrating: true }), "running"],
    [
      "HA has only queued the migration (hastate migrate, no lock yet)",
      source({ migrating: true }),
      "running",
    ],
    [
      "phase3_cleanup: config moved here, VM resumed, lock still held (unlock can take long)",
      here({ migrating: true, present: true }),
      "done",
    ],
    [
      "config moved here, VM paused here (vm_was_paused, or the resume failed): present",
      here({ migrating: true, present: true }),
      "done",
    ],
    ["migration over, VM runs here unlocked", here({ present: true }), "done"],
    [
      "`migration problems` after the move (unlock failed): lock stays, VM runs here",
      here({ migrating: true, present: true }),
      "done",
    ],
    ["migration over, VM still on the source (failed; the target was stopped)", source(), "failed"],
    ["VM gone (destroyed meanwhile)", undefined, "failed"],
    ["VM here but stopped, nothing in flight (never waits forever)", here({ present: false }), "failed"],
    [
      "config here, process not there yet, lock held: wait",
      here({ migrating: true, present: false }),
      "running",
    ],
  ];
  for (const [what, guest, expected] of cases) {
    it(`${what} -> ${expected}`, () => {
      expect(migrationState(guest, "pve2")).toBe(expected);
    });
  }
});

describe("nextMigrationLook (worker on pve2): pmxcfs every poll, the API when it can decide", () => {
  it("the config arrived here (phase3_cleanup moved it): ask the API for the live status at once", () => {
    expect(nextMigrationLook("pve2", "pve2", 0)).toBe("api");
  });
  it("no pmxcfs answer (the guest gone, or no tree): only the API can tell", () => {
    expect(nextMigrationLook(undefined, "pve2", 0)).toBe("api");
  });
  it("config still on the source: no API request at every poll, only once per interval (a failed migration leaves no lock)", () => {
    expect(nextMigrationLook("pve1", "pve2", MIGRATION_POLL_MS)).toBe("wait");
    expect(nextMigrationLook("pve1", "pve2", MIGRATION_API_EVERY_MS - 1)).toBe("wait");
    expect(nextMigrationLook("pve1", "pve2", MIGRATION_API_EVERY_MS)).toBe("api");
    expect(nextMigrationLook("pve1", "pve2", Number.POSITIVE_INFINITY)).toBe("api");
  });
});
