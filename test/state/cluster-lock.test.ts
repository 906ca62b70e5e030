import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PeerError } from "../../lib/errors.ts";
import { clusterLocks } from "../../lib/state/cluster-lock.ts";
import { readHolder } from "../../lib/state/cluster-lock-holder.ts";
import { LockLostError, LockTimeoutError } from "../../lib/state/lock-common.ts";
import { killAllWorkers, startTogether, startWorker } from "./fixtures/spawn.ts";

// pveRoot is a plain temp directory here, so these exercise the emulation of
// pmxcfs lock expiry (a lock directory older than 120 s is stale).

let root: string;
let lockDir: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), `pvemigrate-state-cfs-${process.pid}-`));
  lockDir = join(root, "priv", "lock");
});
afterEach(async () => {
  killAllWorkers();
  await rm(root, { recursive: true, force: true });
});

/** A lock directory held by someone else, with its holder record beside it. */
async function plantHolder(
  dir: string,
  who: { node: string; pid: number; bootId?: string; pidStart?: string },
) {
  await mkdir(dir, { recursive: true });
  const record = {
    token: "t",
    since: new Date().toISOString(),
    ...who,
    lockMtimeMs: (await stat(dir)).mtimeMs,
  };
  await writeFile(`${dir}.holder`, JSON.stringify(record));
  return record;
}

const ageDir = async (path: string, ms: number) => {
  const then = new Date(Date.now() - ms);
  await utimes(path, then, then);
};

describe("cluster lock (mkdir in <pveRoot>/priv/lock)", () => {
  it("is an empty directory with its holder recorded beside it while held, and both gone after", async () => {
    const withLock = clusterLocks(root, { pmxcfs: false });
    const dir = join(lockDir, "pvemigrate-dns-migrate-101");
    const seen = await withLock("migrate-101", async () => ({
      entries: (await readdir(lockDir)).sort(),
      inside: await readdir(dir),
      holder: await readHolder(dir),
      mtimeMs: (await stat(dir)).mtimeMs,
    }));
    expect(seen.entries).toEqual(["pvemigrate-dns-migrate-101", "pvemigrate-dns-migrate-101.holder"]);
    // pmxcfs cannot expire a lock directory that is not empty (memdb_delete: ENOTEMPTY).
    expect(seen.inside).toEqual([]);
    expect(seen.holder).toMatchObject({ pid: process.pid, lockMtimeMs: seen.mtimeMs });
    expect(seen.holder?.bootId).toBe(readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
    expect(seen.holder?.pidStart).toMatch(/^\d+$/);
    expect(await readdir(lockDir)).toEqual([]);
  });

  it("serializes 3 processes x 10 read-modify-writes of one counter file", async () => {
    const counter = join(root, "counter");
    const workers = await startTogether(3, () => ["counter", "cluster", root, counter, "10"]);
    const results = await Promise.all(workers.map((w) => w.next()));
    await Promise.all(workers.map((w) => w.exited));
    expect(results).toEqual([{ overlaps: 0 }, { overlaps: 0 }, { overlaps: 0 }]);
    expect(await readFile(counter, "utf8")).toBe("30");
    expect(await readdir(lockDir)).toEqual([]);
  });

  it("waits for a fresh lock (another node's: not judged by pid) and times out naming its holder", async () => {
    const dir = join(lockDir, "pvemigrate-dns-busy");
    const other = await plantHolder(dir, { node: "pve2", pid: 4242 });
    const withLock = clusterLocks(root, { pmxcfs: false });
    const err = await withLock("busy", async () => "never", { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect((err as Error).message).toContain("pid 4242 on pve2");
    expect(JSON.parse(await readFile(`${dir}.holder`, "utf8"))).toEqual(other); // untouched
  });

  it("takes over a lock directory older than 120 s (pmxcfs would have expired it)", async () => {
    const dir = join(lockDir, "pvemigrate-dns-old");
    await plantHolder(dir, { node: "pve2", pid: 1 });
    await ageDir(dir, 121_000);
    const withLock = clusterLocks(root, { pmxcfs: false });
    const holder = await withLock("old", async () => readHolder(dir), { timeoutMs: 2_000 });
    expect(holder).toMatchObject({ pid: process.pid });
    expect(await readdir(lockDir)).toEqual([]); // nothing left aside
  });

  it("does not take over a 100 s old lock", async () => {
    const dir = join(lockDir, "pvemigrate-dns-young");
    await mkdir(dir, { recursive: true });
    await ageDir(dir, 100_000);
    const withLock = clusterLocks(root, { pmxcfs: false });
    await expect(withLock("young", async () => 1, { timeoutMs: 200 })).rejects.toBeInstanceOf(
      LockTimeoutError,
    );
  });

  it("takes over a lock of another node's dead holder once expired, not before", async () => {
    const dir = join(lockDir, "pvemigrate-dns-victim");
    await plantHolder(dir, { node: "pve2", pid: 999_999_999 });
    const withLock = clusterLocks(root, { pmxcfs: false });
    await expect(withLock("victim", async () => 1, { timeoutMs: 200 })).rejects.toBeInstanceOf(
      LockTimeoutError,
    );
    await ageDir(dir, 130_000);
    await expect(withLock("victim", async () => "mine", { timeoutMs: 2_000 })).resolves.toBe("mine");
  });

  it("renews a lock held longer than the expiry, so nobody takes it over", async () => {
    // Expiry shrunk to 600 ms for the test; the holder renews every 150 ms.
    const holderLocks = clusterLocks(root, { pmxcfs: false, staleMs: 600, renewEveryMs: 150 });
    const waiterLocks = clusterLocks(root, { pmxcfs: false, staleMs: 600 });
    let waiterGot = 0;
    let holderDone = 0;
    const holding = holderLocks("long", async () => {
      await sleep(2_000);
      holderDone = Date.now();
    });
    await sleep(50);
    const waiting = waiterLocks(
      "long",
      async () => {
        waiterGot = Date.now();
      },
      { timeoutMs: 10_000 },
    );
    await Promise.all([holding, waiting]);
    expect(waiterGot).toBeGreaterThanOrEqual(holderDone);
  });

  it("on pmxcfs, leaves expiry to pmxcfs: sends the utime(0, 0) unlock request, deletes nothing, writes no file", async () => {
    // A plain directory standing in for /etc/pve: only what we do to it is observed here.
    const withLock = clusterLocks(root, { pmxcfs: true });
    const dir = join(lockDir, "pvemigrate-dns-cfs");
    await plantHolder(dir, { node: "pve2", pid: 4242 });
    await ageDir(dir, 3_600_000); // would be stale under emulation
    await expect(withLock("cfs", async () => 1, { timeoutMs: 200 })).rejects.toBeInstanceOf(LockTimeoutError);
    expect((await stat(dir)).mtimeMs).toBe(0);
    await rm(dir, { recursive: true });
    await rm(`${dir}.holder`);
    expect(await withLock("cfs", async () => readdir(dir))).toEqual([]);
    expect(await readdir(lockDir)).toEqual([]);
  });

  it("fails at once with a PeerError when the lock directory cannot be created (pmxcfs read-only)", async () => {
    await mkdir(join(root, "priv"), { recursive: true });
    await writeFile(lockDir, "not a directory");
    const withLock = clusterLocks(root, { pmxcfs: false });
    const err = await withLock("x", async () => 1, { timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PeerError);
    expect((err as Error).message).toContain("mkdir failed");
  });
});

// A lock whose holder was a process of this very host that died is broken at
// once: the holder's node, pid, pid start time and boot id are recorded, so
// nothing waits for pmxcfs's 120 s expiry (PVE::Cluster cfs_lock has no such
// record; everyone there waits).
describe("cluster lock of a dead holder on this host", () => {
  const me = () => {
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    return { node: hostname().split(".")[0]!, bootId: boot };
  };
  const startOf = (pid: number) => {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]!;
  };

  for (const mode of ["cluster", "cluster-pmxcfs"] as const) {
    it(`is broken at once when its holder was SIGKILLed while holding it (${mode === "cluster" ? "plain directory" : "pmxcfs"})`, async () => {
      await mkdir(lockDir, { recursive: true });
      const victim = startWorker(["hold-and-die", mode, root]);
      expect(await victim.next()).toBe("holding");
      await victim.exited;
      const dir = join(lockDir, "pvemigrate-dns-victim");
      expect((await readHolder(dir))?.pid).toBe(victim.child.pid);
      const warnings: string[] = [];
      const withLock = clusterLocks(root, {
        pmxcfs: mode === "cluster-pmxcfs",
        warn: (m) => warnings.push(m),
      });
      // Far below the 120 s expiry, and the directory is fresh: only the dead-holder rule can let us in.
      await expect(
        withLock("victim", async () => readHolder(dir), { timeoutMs: 2_000 }),
      ).resolves.toMatchObject({
        pid: process.pid,
      });
      expect(warnings.join("\n")).toContain(`broke the lock of pid ${victim.child.pid}`);
      expect(await readdir(lockDir)).toEqual([]);
    });
  }

  it("is broken when the recorded pid now belongs to a later process (start time differs)", async () => {
    const dir = join(lockDir, "pvemigrate-dns-reused");
    await plantHolder(dir, { ...me(), pid: process.pid, pidStart: String(Number(startOf(process.pid)) - 1) });
    const withLock = clusterLocks(root, { pmxcfs: true });
    await expect(withLock("reused", async () => "mine", { timeoutMs: 2_000 })).resolves.toBe("mine");
  });

  it("is not broken while its holder on this host lives", async () => {
    const holder = startWorker(["hold", root, "alive"]);
    expect(await holder.next()).toBe("holding");
    const withLock = clusterLocks(root, { pmxcfs: false });
    const err = await withLock("alive", async () => 1, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect((err as Error).message).toContain(`pid ${holder.child.pid} on`);
  });

  it("is not broken when the record names another boot (another node's pid means nothing here)", async () => {
    const dir = join(lockDir, "pvemigrate-dns-remote");
    await plantHolder(dir, {
      ...me(),
      bootId: "00000000-0000-4000-8000-000000000000",
      pid: 999_999_999,
      pidStart: "1",
    });
    const withLock = clusterLocks(root, { pmxcfs: true });
    await expect(withLock("remote", async () => 1, { timeoutMs: 300 })).rejects.toBeInstanceOf(
      LockTimeoutError,
    );
  });

  it("is not broken when the record is older than the directory (re-created by another holder after expiry)", async () => {
    const dir = join(lockDir, "pvemigrate-dns-recreated");
    await plantHolder(dir, { ...me(), pid: 999_999_999, pidStart: "1" });
    const later = new Date(Date.now() + 5_000);
    await utimes(dir, later, later); // the new holder's mkdir, before it wrote its own record
    const withLock = clusterLocks(root, { pmxcfs: true });
    await expect(withLock("recreated", async () => 1, { timeoutMs: 300 })).rejects.toBeInstanceOf(
      LockTimeoutError,
    );
  });
});

describe("cluster lock upkeep", () => {
  it("creates priv/lock when it is missing, on pmxcfs too (cfs_lock's `mkdir $lockdir`)", async () => {
    await mkdir(join(root, "priv"));
    const withLock = clusterLocks(root, { pmxcfs: true });
    await expect(withLock("first", async () => readdir(lockDir))).resolves.toEqual([
      "pvemigrate-dns-first",
      "pvemigrate-dns-first.holder",
    ]);
  });

  it("reports a renewal that fails and tells the work under the lock through its lease", async () => {
    const warnings: string[] = [];
    const withLock = clusterLocks(root, {
      pmxcfs: false,
      staleMs: 600,
      renewEveryMs: 50,
      warn: (m) => warnings.push(m),
    });
    const dir = join(lockDir, "pvemigrate-dns-expiring");
    const reason = await withLock("expiring", async (lease) => {
      await rm(dir, { recursive: true }); // what pmxcfs does to an expired lock
      await new Promise((resolve) => lease.signal.addEventListener("abort", resolve, { once: true }));
      return lease.signal.reason;
    });
    expect(reason).toBeInstanceOf(LockLostError);
    expect(warnings.join("\n")).toMatch(
      /renewal failed, the lock is lost \(ENOENT: the lock directory is gone/,
    );
  });

  it("notices at renewal that another holder took the lock, and leaves that lock alone at release", async () => {
    const warnings: string[] = [];
    const withLock = clusterLocks(root, { pmxcfs: false, renewEveryMs: 50, warn: (m) => warnings.push(m) });
    const dir = join(lockDir, "pvemigrate-dns-stolen");
    const aborted = await withLock("stolen", async (lease) => {
      await plantHolder(dir, { node: "pve2", pid: 4242 });
      await new Promise((resolve) => lease.signal.addEventListener("abort", resolve, { once: true }));
      return lease.signal.aborted;
    });
    expect(aborted).toBe(true);
    expect(warnings.join("\n")).toContain("now held by pid 4242 on pve2");
    expect((await readHolder(dir))?.node).toBe("pve2");
  });
});
