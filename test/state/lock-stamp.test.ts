import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clusterLockStamp, clusterLocks } from "../../lib/state/cluster-lock.ts";
import { localLockStamp, localLocks } from "../../lib/state/local-lock.ts";
import type { LockLease } from "../../lib/state/lock-common.ts";
import { type LockStamp, unheldSince } from "../../lib/state/lock-stamp.ts";
import { killAllWorkers, startWorker } from "./fixtures/spawn.ts";

// The "released since" stamp of the locks a reconcile's steps take after the
// run read the cluster (lib/state/lock-stamp.ts): whether anybody held the
// lock between a stamp read before the run's read and the step taking it.

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), `pvemigrate-state-stamp-${process.pid}-`));
  await mkdir(join(root, "priv", "lock"), { recursive: true });
});
afterEach(async () => {
  killAllWorkers();
  await rm(root, { recursive: true, force: true });
});

const kinds = [
  {
    kind: "the dns cluster lock",
    name: "dns",
    withLock: () => clusterLocks(root, { pmxcfs: false }),
    stamp: () => clusterLockStamp(root, "dns"),
  },
  {
    kind: "a node's convergence lock",
    name: "node-pve1",
    withLock: () => localLocks(join(root, "locks")),
    stamp: () => localLockStamp(join(root, "locks"), "node-pve1"),
  },
];

describe.each(kinds)("the stamp of $kind", ({ name, withLock, stamp }) => {
  it("is bumped and held while taken, released after, and the next holder's lease says how it was left", async () => {
    const lock = withLock();
    expect(await stamp()).toBeUndefined();
    let first: LockLease | undefined;
    let inside: LockStamp | undefined;
    await lock(name, async (lease) => {
      first = lease;
      inside = await stamp();
    });
    expect(first?.previous).toBeUndefined();
    const gen = inside?.gen ?? -1;
    expect(gen).toBeGreaterThan(0);
    expect(inside).toEqual({ gen, released: false });
    const mark = await stamp();
    expect(mark).toEqual({ gen, released: true });
    let second: LockLease | undefined;
    await lock(name, async (lease) => {
      second = lease;
    });
    expect(second?.previous).toEqual({ gen, released: true });
    // Nobody between the mark and the second holder; the second holder itself is seen by the next one.
    expect(unheldSince(mark, second?.previous)).toBe(true);
    let third: LockLease | undefined;
    await lock(name, async (lease) => {
      third = lease;
    });
    expect(unheldSince(mark, third?.previous)).toBe(false);
  });

  it("reads as unknown when it does not parse (a step then reads the cluster again)", async () => {
    const lock = withLock();
    await lock(name, async () => {});
    const before = await stamp();
    const dir =
      name === "dns" ? join(root, "priv", "lock", "pvemigrate-dns-dns") : join(root, "locks", `${name}.lock`);
    await writeFile(`${dir}.stamp`, "{ cut sh");
    expect(await stamp()).toBeUndefined();
    let lease: LockLease | undefined;
    await lock(name, async (l) => {
      lease = l;
    });
    expect(lease?.previous).toBeUndefined();
    // A new generation, not a count from 1 again: a run's mark of the lost stamp must never match it.
    const after = await stamp();
    expect(after?.released).toBe(true);
    expect(after?.gen).not.toBe(1);
    expect(after?.gen).not.toBe(before?.gen);
  });
});

describe("a holder killed while holding the lock", () => {
  it.each([
    ["dns", "cluster", () => clusterLocks(root, { pmxcfs: false }), () => clusterLockStamp(root, "dns")],
    [
      "node-pve1",
      "local",
      () => localLocks(join(root, "locks")),
      () => localLockStamp(join(root, "locks"), "node-pve1"),
    ],
  ] as const)(
    "%s: leaves the stamp held, so the next holder's step cannot trust an older read",
    async (name, mode, withLock, stamp) => {
      await withLock()(name, async () => {});
      const mark = await stamp();
      expect(mark?.released).toBe(true);
      const victim = startWorker([
        "hold-and-die",
        mode,
        mode === "cluster" ? root : join(root, "locks"),
        name,
      ]);
      expect(await victim.next()).toBe("holding");
      await victim.exited;
      let lease: LockLease | undefined;
      // A dead holder of this host is broken at once (cluster-lock.ts, local-lock.ts).
      await withLock()(name, async (l) => {
        lease = l;
      });
      expect(lease?.previous).toEqual({ gen: (mark?.gen ?? 0) + 1, released: false });
      expect(unheldSince(mark, lease?.previous)).toBe(false);
    },
  );
});

describe("locks no run reads the cluster before", () => {
  it("keep no stamp (per-VM locks, the journal's): nothing is written for them", async () => {
    await localLocks(join(root, "locks"))("vm-101", async () => {});
    await clusterLocks(root, { pmxcfs: false })("journal", async () => {});
    expect(await readdir(join(root, "locks"))).toEqual([]);
    expect(await readdir(join(root, "priv", "lock"))).toEqual([]);
  });
});
