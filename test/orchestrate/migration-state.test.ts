import { describe, expect, it } from "vitest";
import type { SnapshotVm } from "../../lib/cluster/index.ts";
import { migrationState } from "../../lib/orchestrate/worker.ts";

// When does the target's worker switch, give up, or keep waiting?

const vm = (over: Partial<SnapshotVm>): SnapshotVm => ({
  vmid: 101,
  type: "qemu",
  node: "pve1",
  status: "running",
  tags: [],
  ...over,
});

describe("migrationState (worker on pve2, migration from pve1)", () => {
  it("keeps waiting while the source holds the migrate lock", () => {
    expect(migrationState(vm({ lock: "migrate" }), "pve2", false)).toBe("running");
  });
  it("keeps waiting while HA has only queued the migration", () => {
    expect(migrationState(vm({ hastate: "migrate" }), "pve2", false)).toBe("running");
  });
  it("switches once the VM runs here unlocked, or its config moved here", () => {
    expect(migrationState(vm({ node: "pve2" }), "pve2", false)).toBe("done");
    expect(migrationState(vm({ lock: "migrate" }), "pve2", true)).toBe("done");
  });
  it("gives up when the migration ended with the VM still on the source", () => {
    expect(migrationState(vm({}), "pve2", false)).toBe("failed");
  });
  it("gives up when the VM is gone, or sits here stopped with nothing in flight (never waits forever)", () => {
    expect(migrationState(undefined, "pve2", false)).toBe("failed");
    expect(migrationState(vm({ node: "pve2", status: "stopped" }), "pve2", true)).toBe("failed");
  });
});
