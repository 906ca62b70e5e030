import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { breakDeadClusterLocks } from "../../lib/state/cluster-lock.ts";
import { killAllWorkers, startWorker } from "./fixtures/spawn.ts";

// The timer's sweep of cluster locks left by dead processes of this host
// (a SIGKILLed hook worker): a waiter on another node could not judge the
// pid and would wait out pmxcfs's 120 s expiry (the fault matrix's crash row
// found such locks left behind when no waiter of this host came along).

let root: string;
let lockDir: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), `pvemigrate-state-sweep-${process.pid}-`));
  lockDir = join(root, "priv", "lock");
  await mkdir(lockDir, { recursive: true });
});
afterEach(async () => {
  killAllWorkers();
  await rm(root, { recursive: true, force: true });
});

describe("breakDeadClusterLocks", () => {
  it("frees a lock whose holder on this host was SIGKILLed while holding it, and says so", async () => {
    const victim = startWorker(["hold-and-die", "cluster-pmxcfs", root]);
    expect(await victim.next()).toBe("holding");
    await victim.exited;
    expect(await readdir(lockDir)).toContain("pvemigrate-dns-victim");
    const warnings: string[] = [];
    expect(await breakDeadClusterLocks(root, { warn: (m) => warnings.push(m) })).toEqual(["victim"]);
    expect(await readdir(lockDir)).toEqual([]);
    expect(warnings.join("\n")).toContain(`broke the lock of pid ${victim.child.pid}`);
  });

  it("leaves a living holder's lock, another boot's lock and Proxmox's own locks alone", async () => {
    const holder = startWorker(["hold", root, "alive"]);
    expect(await holder.next()).toBe("holding");
    const remote = join(lockDir, "pvemigrate-dns-remote");
    await mkdir(remote);
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    await writeFile(
      `${remote}.holder`,
      JSON.stringify({
        token: "t",
        since: new Date().toISOString(),
        node: hostname().split(".")[0],
        pid: 999_999_999,
        pidStart: "1",
        bootId: boot.replace(/^./, (ch) => (ch === "0" ? "1" : "0")),
        lockMtimeMs: (await stat(remote)).mtimeMs,
      }),
    );
    await mkdir(join(lockDir, "file-storage_cfg"));
    const before = (await readdir(lockDir)).sort();
    expect(await breakDeadClusterLocks(root, { warn: () => {} })).toEqual([]);
    expect((await readdir(lockDir)).sort()).toEqual(before);
  });

  it("finds nothing to do when priv/lock does not exist", async () => {
    await rm(lockDir, { recursive: true });
    expect(await breakDeadClusterLocks(root)).toEqual([]);
  });
});
