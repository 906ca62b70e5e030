import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PeerError } from "../../lib/errors.ts";
import { clusterLocks } from "../../lib/state/cluster-lock.ts";
import { parseHolder } from "../../lib/state/holder.ts";
import { LockTimeoutError } from "../../lib/state/lock-common.ts";
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

const ageDir = async (path: string, ms: number) => {
  const then = new Date(Date.now() - ms);
  await utimes(path, then, then);
};

describe("cluster lock (mkdir in <pveRoot>/priv/lock)", () => {
  it("is a directory with the holder inside while held, and gone after", async () => {
    const withLock = clusterLocks(root, { pmxcfs: false });
    const seen = await withLock("migrate-101", async () => ({
      entries: await readdir(lockDir),
      holder: parseHolder(await readFile(join(lockDir, "pvemigrate-dns-migrate-101", "holder.json"), "utf8")),
    }));
    expect(seen.entries).toEqual(["pvemigrate-dns-migrate-101"]);
    expect(seen.holder).toMatchObject({ pid: process.pid });
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
    await mkdir(dir, { recursive: true });
    const other = { token: "t", node: "pve2", pid: 4242, since: new Date().toISOString() };
    await writeFile(join(dir, "holder.json"), JSON.stringify(other));
    const withLock = clusterLocks(root, { pmxcfs: false });
    const err = await withLock("busy", async () => "never", { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect((err as Error).message).toContain("pid 4242 on pve2");
    expect(JSON.parse(await readFile(join(dir, "holder.json"), "utf8"))).toEqual(other); // untouched
  });

  it("takes over a lock directory older than 120 s (pmxcfs would have expired it)", async () => {
    const dir = join(lockDir, "pvemigrate-dns-old");
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, "holder.json"),
      JSON.stringify({ token: "t", node: "pve2", pid: 1, since: "x" }),
    );
    await ageDir(dir, 121_000);
    const withLock = clusterLocks(root, { pmxcfs: false });
    const holder = await withLock(
      "old",
      async () => parseHolder(await readFile(join(dir, "holder.json"), "utf8")),
      { timeoutMs: 2_000 },
    );
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

  it("takes over a lock left by a process killed while holding it, once expired", async () => {
    const victim = startWorker(["hold-and-die", "cluster", root]);
    expect(await victim.next()).toBe("holding");
    await victim.exited;
    const dir = join(lockDir, "pvemigrate-dns-victim");
    expect((await stat(dir)).isDirectory()).toBe(true);
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
    await mkdir(dir, { recursive: true });
    await ageDir(dir, 3_600_000); // would be stale under emulation
    await expect(withLock("cfs", async () => 1, { timeoutMs: 200 })).rejects.toBeInstanceOf(LockTimeoutError);
    expect((await stat(dir)).mtimeMs).toBe(0);
    await rm(dir, { recursive: true });
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
