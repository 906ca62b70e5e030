import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { breakDeadClusterLocks, clusterLocks } from "../../lib/state/cluster-lock.ts";
import { writeClaim } from "../../lib/state/cluster-lock-claim.ts";
import { currentHolder } from "../../lib/state/holder.ts";
import { LockTimeoutError } from "../../lib/state/lock-common.ts";
import { killAllWorkers, startWorker } from "./fixtures/spawn.ts";

// A cluster lock whose creator was killed between its mkdir and its holder
// record (lib/state/cluster-lock-claim.ts): no record, so no pid to judge,
// and every waiter used to wait out pmxcfs's 120 s expiry. The claim written
// before the mkdir names the creator; when every claim beside such a lock is
// a gone process of this host, the lock is broken at once, safely.

let root: string;
let lockDir: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), `pvemigrate-state-ownerless-${process.pid}-`));
  lockDir = join(root, "priv", "lock");
  await mkdir(lockDir, { recursive: true });
});
afterEach(async () => {
  killAllWorkers();
  await rm(root, { recursive: true, force: true });
});

/** A real process that wrote its claim, created the lock and was SIGKILLed before its holder record. */
async function killedAfterMkdir(name: string): Promise<void> {
  const victim = startWorker(["claim-and-die", root, name]);
  expect(await victim.next()).toBe("created");
  await victim.exited;
  expect(await readdir(lockDir)).toContain(`pvemigrate-dns-${name}`);
}

describe("a cluster lock without a holder record", () => {
  it.each([false, true])(
    "is broken at once when its creator on this host was killed after the mkdir (pmxcfs: %s)",
    async (pmxcfs) => {
      await killedAfterMkdir("victim");
      const warnings: string[] = [];
      const withLock = clusterLocks(root, { pmxcfs, warn: (m) => warnings.push(m) });
      // Under the 120 s expiry by far: the waiter judges the creator's claim itself.
      await expect(withLock("victim", async () => "mine", { timeoutMs: 3_000 })).resolves.toBe("mine");
      expect(warnings.join("\n")).toContain("broke a lock without a holder record");
      // Nothing left: the lock, its dead creator's claim, our own claim.
      expect(await readdir(lockDir)).toEqual([]);
    },
  );

  it("is broken by the timer's sweep on the creator's node, for waiters on other nodes", async () => {
    await killedAfterMkdir("victim");
    expect(await breakDeadClusterLocks(root, { warn: () => {} })).toEqual(["victim"]);
    expect(await readdir(lockDir)).toEqual([]);
  });

  it("is left alone while its claimant lives (a creator slow to write its record)", async () => {
    const dir = join(lockDir, "pvemigrate-dns-slow");
    await writeClaim(dir, currentHolder());
    await mkdir(dir);
    const withLock = clusterLocks(root, { pmxcfs: false });
    await expect(withLock("slow", async () => 1, { timeoutMs: 300 })).rejects.toBeInstanceOf(
      LockTimeoutError,
    );
    expect(await breakDeadClusterLocks(root, { warn: () => {} })).toEqual([]);
    expect((await readdir(lockDir)).filter((n) => !n.includes(".claim-"))).toEqual(["pvemigrate-dns-slow"]);
  });

  it("is left to its expiry when the claim names another node (its pid means nothing here)", async () => {
    const dir = join(lockDir, "pvemigrate-dns-remote");
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    await writeClaim(dir, { ...currentHolder(), node: "pve-elsewhere", pid: 999_999_999, bootId: boot });
    await mkdir(dir);
    const withLock = clusterLocks(root, { pmxcfs: false });
    await expect(withLock("remote", async () => 1, { timeoutMs: 300 })).rejects.toBeInstanceOf(
      LockTimeoutError,
    );
    expect(await breakDeadClusterLocks(root, { warn: () => {} })).toEqual([]);
  });

  it("is left to its expiry without any claim (made by an older version, or by hand)", async () => {
    await mkdir(join(lockDir, "pvemigrate-dns-bare"));
    const withLock = clusterLocks(root, { pmxcfs: false });
    await expect(withLock("bare", async () => 1, { timeoutMs: 300 })).rejects.toBeInstanceOf(
      LockTimeoutError,
    );
    expect(await breakDeadClusterLocks(root, { warn: () => {} })).toEqual([]);
  });
});
