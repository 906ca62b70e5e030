import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defineKind, openState } from "../../lib/state/index.ts";

let dir: string;
let warnings: string[];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), `pvemigrate-state-open-${process.pid}-`));
  warnings = [];
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const switchKind = defineKind<{ vmid: number; to: string }>(
  "switch",
  (p) => `vm:${p.vmid}`,
  (raw) => raw as { vmid: number; to: string },
);
const open = () =>
  openState(
    { stateDir: join(dir, "var"), pveRoot: join(dir, "pve") },
    { pmxcfs: false, warn: (m) => warnings.push(m) },
  );

describe("openState", () => {
  it("records cluster-wide work in pmxcfs, and drains it", async () => {
    const state = open();
    const { journal } = await state.recordPending(switchKind, { vmid: 101, to: "pve2" });
    expect(journal).toBe(state.cluster);
    expect(await readdir(join(dir, "pve", "pvemigrate-dns", "journal"))).toEqual(["vm%3A101.json"]);
    expect(await readdir(join(dir, "pve", "priv", "lock"))).toEqual([]); // the journal's cluster lock was released
    const seen: number[] = [];
    const result = await state.drainPending(switchKind, async (item) => {
      seen.push(item.payload.vmid);
    });
    expect(seen).toEqual([101]);
    expect(result.done).toEqual(["vm:101"]);
    expect(await state.cluster.list()).toEqual([]);
  });

  it("falls back to the node's journal when pmxcfs refuses writes (no quorum), losing nothing", async () => {
    await mkdir(join(dir, "pve", "priv"), { recursive: true });
    await writeFile(join(dir, "pve", "priv", "lock"), "read-only stand-in: mkdir below fails");
    const state = open();
    const { journal, item } = await state.recordPending(switchKind, { vmid: 102, to: "pve3" });
    expect(journal).toBe(state.local);
    expect(warnings.join("\n")).toContain("recording vm:102 on this node");
    expect(await state.local.list(switchKind)).toEqual([item]);
    // A later run (quorum back or not) finishes it from the local journal.
    const result = await state.drainPending(switchKind, async () => {});
    expect(result.done).toEqual(["vm:102"]);
    expect(await state.local.list()).toEqual([]);
  });

  it("per-VM locks live in stateDir/locks", async () => {
    const state = open();
    const inside = await state.withVmLock(101, async () => readdir(join(dir, "var", "locks")));
    expect(inside).toEqual(["vm-101.lock"]);
    expect(await readdir(join(dir, "var", "locks"))).toEqual([]);
  });
});
