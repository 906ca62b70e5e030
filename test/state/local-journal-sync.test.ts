import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { localNodeName } from "../../lib/node-name.ts";
import { hookWork } from "../../lib/orchestrate/pending.ts";
import { currentHolder } from "../../lib/state/holder.ts";
import { fileNameFor } from "../../lib/state/journal-item.ts";
import { openLocalJournal, recordLocalSync } from "../../lib/state/local-journal.ts";

// recordLocalSync is Journal.record for the hookscript, made synchronously
// (no thread pool while a VM start waits): the same file, lock and format, so
// the worker and reconcile (the async Journal) read what it wrote, and a
// worker's markDone never deletes an intent it recorded meanwhile.

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), `pvemigrate-journal-sync-${process.pid}-`));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const id = hookWork.idOf({ vmid: 101, phase: "post-start" });

describe("recordLocalSync (the hookscript's journal write)", () => {
  it("writes an item the async Journal lists; a replacement keeps createdAt, gets the replaced payload, and a new revision", async () => {
    let now = Date.parse("2026-12-03T10:00:00Z");
    const first = recordLocalSync(
      dir,
      hookWork,
      id,
      (old) => {
        expect(old).toBeUndefined();
        return { vmid: 101, phase: "post-start" as const, migratedFrom: "pve2" };
      },
      { now: () => now },
    );
    now += 5_000;
    let seen: unknown;
    const second = recordLocalSync(
      dir,
      hookWork,
      id,
      (old) => {
        seen = old?.payload;
        return { vmid: 101, phase: "post-start" as const };
      },
      { now: () => now },
    );
    expect(seen).toEqual({ vmid: 101, phase: "post-start", migratedFrom: "pve2" });
    expect(second.rev).not.toBe(first.rev);
    const listed = await openLocalJournal(dir).list(hookWork);
    expect(listed).toEqual([second]);
    expect(listed[0]?.createdAt).toBe("2026-12-03T10:00:00.000Z");
    expect(listed[0]?.updatedAt).toBe("2026-12-03T10:00:05.000Z");
    // The lock released, no temp file left.
    expect(readdirSync(join(dir, "locks"))).toEqual([]);
    expect(readdirSync(join(dir, "journal"))).toEqual([fileNameFor(id)]);
  });

  it("breaks a journal lock its dead holder left (as the async lock does) instead of waiting it out", () => {
    const gone = spawnSync(process.execPath, ["-e", "0"]).pid;
    mkdirSync(join(dir, "locks"), { recursive: true });
    const { bootId: _, pidStart: __, ...dead } = { ...currentHolder(), pid: gone, node: localNodeName() };
    writeFileSync(join(dir, "locks", "journal.lock"), JSON.stringify(dead));
    // A live holder would be waited for (15 s), then LockTimeoutError: this returns.
    recordLocalSync(dir, hookWork, id, () => ({ vmid: 101, phase: "post-start" as const }));
    expect(readdirSync(join(dir, "locks"))).toEqual([]);
  });

  it("moves a corrupt item aside (kept for a human) and records the new one, saying so", () => {
    mkdirSync(join(dir, "journal"), { recursive: true });
    writeFileSync(join(dir, "journal", fileNameFor(id)), "{not json");
    const warnings: string[] = [];
    recordLocalSync(
      dir,
      hookWork,
      id,
      (old) => {
        expect(old).toBeUndefined();
        return { vmid: 101, phase: "post-start" as const };
      },
      { warn: (m) => warnings.push(m) },
    );
    const names = readdirSync(join(dir, "journal")).sort();
    expect(names).toHaveLength(2);
    expect(names.filter((n) => n.endsWith(".corrupt"))).toHaveLength(1);
    expect(warnings.join("\n")).toContain("moved corrupt");
  });
});
