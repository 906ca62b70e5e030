import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InputError } from "../../lib/errors.ts";
import { currentHolder, parseHolder } from "../../lib/state/holder.ts";
import { localLocks } from "../../lib/state/local-lock.ts";
import { LockTimeoutError, vmLockName } from "../../lib/state/lock-common.ts";
import { killAllWorkers, startTogether, startWorker } from "./fixtures/spawn.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), `pvemigrate-state-lock-${process.pid}-`));
});
afterEach(async () => {
  killAllWorkers();
  await rm(dir, { recursive: true, force: true });
});

describe("local lock (stateDir/locks)", () => {
  it("serializes 4 processes x 25 read-modify-writes of one counter file: no lost update, never two inside", async () => {
    const counter = join(dir, "counter");
    const workers = await startTogether(4, () => ["counter", "local", join(dir, "locks"), counter, "25"]);
    const results = await Promise.all(workers.map((w) => w.next()));
    await Promise.all(workers.map((w) => w.exited));
    expect(results).toEqual(Array.from({ length: 4 }, () => ({ overlaps: 0 })));
    expect(await readFile(counter, "utf8")).toBe("100");
    expect(await readdir(join(dir, "locks"))).toEqual([]); // released, no temp or guard files left
  });

  it("holds the holder (node, pid, time) in the lock file while held and removes it after", async () => {
    const withLock = localLocks(dir);
    const inside = await withLock("vm-101", async () =>
      parseHolder(await readFile(join(dir, "vm-101.lock"), "utf8")),
    );
    expect(inside).toMatchObject({ pid: process.pid });
    expect(Date.parse(inside!.since)).not.toBeNaN();
    expect(await readdir(dir)).toEqual([]);
  });

  it("releases the lock when fn throws", async () => {
    const withLock = localLocks(dir);
    await expect(withLock("x", () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await expect(withLock("x", async () => "again", { timeoutMs: 100 })).resolves.toBe("again");
  });

  it("excludes concurrent holders inside one process too", async () => {
    const withLock = localLocks(dir);
    const order: string[] = [];
    const task = (name: string) =>
      withLock("same", async () => {
        order.push(`${name}+`);
        await new Promise((r) => setTimeout(r, 20));
        order.push(`${name}-`);
      });
    await Promise.all([task("a"), task("b")]);
    expect([
      ["a+", "a-", "b+", "b-"],
      ["b+", "b-", "a+", "a-"],
    ]).toContainEqual(order);
  });

  it("times out on a live holder, naming the holder", async () => {
    const withLock = localLocks(dir);
    await writeFile(join(dir, "busy.lock"), JSON.stringify(currentHolder()));
    const err = await withLock("busy", async () => "never", { timeoutMs: 150 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect((err as Error).message).toContain(`pid ${process.pid}`);
    expect(await readFile(join(dir, "busy.lock"), "utf8")).toContain(String(process.pid)); // untouched
  });

  it("takes over a lock whose holder was killed while holding it", async () => {
    const locks = join(dir, "locks");
    const victim = startWorker(["hold-and-die", "local", locks]);
    expect(await victim.next()).toBe("holding");
    expect(await victim.exited).toBe("SIGKILL");
    const stale = parseHolder(await readFile(join(locks, "victim.lock"), "utf8"));
    expect(stale?.pid).toBe(victim.child.pid);
    const withLock = localLocks(locks);
    const mine = await withLock(
      "victim",
      async () => parseHolder(await readFile(join(locks, "victim.lock"), "utf8")),
      { timeoutMs: 5_000 },
    );
    expect(mine?.pid).toBe(process.pid);
  });

  it("treats a lock written before a reboot (other boot id) as stale, even if its pid is alive now", async () => {
    const withLock = localLocks(dir);
    await writeFile(join(dir, "old.lock"), JSON.stringify({ ...currentHolder(), bootId: "another-boot" }));
    await expect(withLock("old", async () => "taken", { timeoutMs: 1_000 })).resolves.toBe("taken");
  });

  it("judges a same-boot holder by its pid even if the hostname changed since", async () => {
    const withLock = localLocks(dir);
    const deadPid = spawnSync("true").pid!;
    await writeFile(
      join(dir, "renamed.lock"),
      JSON.stringify({ ...currentHolder(), node: "old-name", pid: deadPid }),
    );
    await expect(withLock("renamed", async () => "taken", { timeoutMs: 1_000 })).resolves.toBe("taken");
  });

  it("treats a live pid with another start time as a reused pid: stale", async () => {
    const withLock = localLocks(dir);
    await writeFile(join(dir, "reused.lock"), JSON.stringify({ ...currentHolder(), pidStart: "1" }));
    await expect(withLock("reused", async () => "taken", { timeoutMs: 1_000 })).resolves.toBe("taken");
  });

  it("waits for, then breaks, an unreadable lock file only once it is old", async () => {
    const withLock = localLocks(dir);
    await writeFile(join(dir, "empty.lock"), "");
    await expect(withLock("empty", async () => "no", { timeoutMs: 100 })).rejects.toBeInstanceOf(
      LockTimeoutError,
    );
    const { utimes } = await import("node:fs/promises");
    const old = new Date(Date.now() - 60_000);
    await utimes(join(dir, "empty.lock"), old, old);
    await expect(withLock("empty", async () => "yes", { timeoutMs: 1_000 })).resolves.toBe("yes");
  });

  it("rejects lock names that could escape the directory", async () => {
    const withLock = localLocks(dir);
    for (const name of ["../etc", "a/b", "", ".hidden", "x.lock"]) {
      await expect(withLock(name, async () => 1)).rejects.toBeInstanceOf(InputError);
    }
    expect(vmLockName(101)).toBe("vm-101");
    expect(() => vmLockName(-1)).toThrow(InputError);
  });
});
