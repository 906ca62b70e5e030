import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ProxmoxApiError } from "../../lib/cluster/client.ts";
import { getLiveStatus } from "../../lib/cluster/live.ts";
import { getSnapshot } from "../../lib/cluster/snapshot.ts";
import { type SimCluster, type SimClusterOptions, startSimCluster } from "../../lib/sim/cluster.ts";
import type { SimHookEvent } from "../../lib/sim/state.ts";
import { simClient } from "./helpers.ts";

// The simulator behaves like Proxmox where our decisions depend on it; each
// test names the Proxmox source it follows. The real client talks to it.

describe("simulated cluster follows Proxmox", () => {
  let sim: SimCluster;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `pvemigrate-simfid-${process.pid}-`));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));
  afterEach(async () => sim?.stop());

  const start = async (opts: SimClusterOptions = {}) => {
    sim = await startSimCluster({
      vms: [
        { vmid: 101, node: "pve1" },
        { vmid: 102, node: "pve2", hastate: "started" },
        { vmid: 200, node: "pve2", type: "lxc" },
      ],
      migrationDelayMs: 200,
      haDelayMs: 100,
      ...opts,
    });
    return simClient(Object.values(sim.urls));
  };
  const until = async (what: string, check: () => boolean, ms = 5000) => {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const resource = async (client: ReturnType<typeof simClient>, vmid: number) =>
    (
      (await client.request("GET", "/cluster/resources", { type: "vm" })) as Array<Record<string, unknown>>
    ).find((r) => r.vmid === vmid);
  const apiError = (p: Promise<unknown>) =>
    p.then(
      () => {
        throw new Error("expected an error");
      },
      (e: unknown) => e as ProxmoxApiError,
    );

  it("QemuMigrate::phase3_cleanup order: config moves (pmxcfs rename), resume on target, stop source, slow unlock; resources: node=target, lock=migrate, status from the RRD", async () => {
    const pveRoot = join(dir, "order");
    const client = await start({ pveRoot, unlockDelayMs: 400, rrdIntervalMs: 60_000 });
    const src = join(pveRoot, "nodes/pve1/qemu-server/101.conf");
    const dst = join(pveRoot, "nodes/pve2/qemu-server/101.conf");
    expect(existsSync(src)).toBe(true);
    sim.migrate(101, "pve2");
    await until("the lock", () => readFileSync(src, "utf8").includes("lock: migrate"));
    await until("the config move", () => existsSync(dst));
    expect(existsSync(src)).toBe(false);
    // Between the move and the unlock: placement from the config, status from the (stale) RRD.
    expect(await resource(client, 101)).toMatchObject({ node: "pve2", lock: "migrate", status: "running" });
    await until("the resume", () => sim.events.some((e) => e.what === "resumed"));
    expect(await getLiveStatus(client, { vmid: 101, node: "pve2" })).toEqual({
      status: "running",
      lock: "migrate",
    });
    await until("the task end", () => sim.events.some((e) => e.what === "task-ended"));
    expect(sim.events.filter((e) => e.vmid === 101).map((e) => `${e.what}@${e.node}`)).toEqual([
      "locked@pve1",
      "target-started@pve2",
      "config-moved@pve2",
      "resumed@pve2",
      "source-stopped@pve1",
      "unlocked@pve2",
      "task-ended@pve2",
    ]);
    expect(readFileSync(dst, "utf8")).not.toContain("lock:");
  });

  it("RRD lag (pvestatd every 10 s): a stop shows in status/current at once, in /cluster/resources only after the next broadcast; QMP states show through", async () => {
    const client = await start({ rrdIntervalMs: 60_000 });
    sim.stopVm(101);
    expect(await getLiveStatus(client, { vmid: 101, node: "pve1" })).toEqual({ status: "stopped" });
    expect((await resource(client, 101))?.status).toBe("running");
    sim.tickRrd();
    expect((await resource(client, 101))?.status).toBe("stopped");
    sim.startVm(101);
    sim.setQmpStatus(101, "paused");
    sim.tickRrd();
    expect((await resource(client, 101))?.status).toBe("paused");
    // The snapshot reads any QMP state as present (pvestatd: `$d->{qmpstatus} || $d->{status}`).
    const vm = (await getSnapshot(client)).vms.find((v) => v.vmid === 101);
    expect(vm).toMatchObject({ status: "running", qmpstatus: "paused" });
    expect(await getLiveStatus(client, { vmid: 101, node: "pve1" })).toEqual({
      status: "running",
      qmpstatus: "paused",
    });
  });

  it("AbstractMigrate::migrate: a failure after the move is `migration problems` with the VM on the target; timestamped ERROR lines", async () => {
    const client = await start();
    sim.failNextMigration("zfs error: dataset is busy", "cleanup");
    const upid = sim.migrate(101, "pve3");
    await until("the task end", () => sim.state.tasks.some((t) => t.upid === upid && t.endtime));
    const status = (await client.request(
      "GET",
      `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`,
    )) as Record<string, unknown>;
    expect(status).toMatchObject({ status: "stopped", exitstatus: "migration problems" });
    expect(sim.state.vm(101).node).toBe("pve3");
    const log = (await client.request("GET", `/nodes/pve1/tasks/${encodeURIComponent(upid)}/log`)) as Array<{
      t: string;
    }>;
    const lines = log.map((l) => l.t);
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ERROR: removing local copy of .* failed - zfs error: dataset is busy$/,
      ),
    );
    expect(lines.at(-1)).toBe("TASK ERROR: migration problems");
  });

  it("phase2 failure: `migration problems` too, but the VM stays and the target runs post-stop (qemu-server >= 9.1.13 vm_stop_cleanup)", async () => {
    const hooks: SimHookEvent[] = [];
    await start({ onHook: (e) => hooks.push(e) });
    sim.failNextMigration("VM 101 qmp command 'migrate' failed", "phase2");
    const upid = sim.migrate(101, "pve2");
    await until("the task end", () => sim.state.tasks.some((t) => t.upid === upid && t.endtime));
    expect(sim.state.tasks.find((t) => t.upid === upid)?.exitstatus).toBe("migration problems");
    expect(sim.state.vm(101)).toMatchObject({ node: "pve1", status: "running" });
    expect(sim.state.vm(101).lock).toBeUndefined();
    expect(hooks).toEqual([
      { node: "pve2", vmid: 101, phase: "pre-start", migratedFrom: "pve1" },
      { node: "pve2", vmid: 101, phase: "post-start", migratedFrom: "pve1" },
      { node: "pve2", vmid: 101, phase: "post-stop" },
    ]);
  });

  it("task API (pve-manager PVE/API2/Tasks.pm, pve-common dump_logfile): empty log is `no content`, unknown UPID 400, token tasks list user + tokenid, running ones RUNNING", async () => {
    const client = await start({ migrationDelayMs: 2000 });
    const task = sim.state.startTask("pve1", "qmstart", "101", "root@pam!pvemigrate");
    const base = `/nodes/pve1/tasks/${encodeURIComponent(task.upid)}`;
    expect(await client.request("GET", `${base}/log`)).toEqual([{ n: 1, t: "no content" }]);
    const list = (await client.request("GET", "/nodes/pve1/tasks", { source: "all" })) as Array<
      Record<string, unknown>
    >;
    expect(list.find((t) => t.upid === task.upid)).toMatchObject({
      user: "root@pam",
      tokenid: "pvemigrate",
      status: "RUNNING",
    });
    const unknown = task.upid.replace(/:qmstart:/, ":qmigrate:");
    const err = await apiError(
      client.request("GET", `/nodes/pve1/tasks/${encodeURIComponent(unknown)}/status`),
    );
    expect(err.status).toBe(400);
  });

  it("migrate_vm checks (qemu-server PVE/API2/Qemu.pm): unknown target 500 `no such cluster node`; a running HA-managed VM without online is refused too", async () => {
    const client = await start();
    const bad = await apiError(client.request("POST", "/nodes/pve1/qemu/101/migrate", { target: "pve9" }));
    expect(bad.status).toBe(500);
    expect(bad.message).toContain("no such cluster node 'pve9'");
    const ha = await apiError(client.request("POST", "/nodes/pve2/qemu/102/migrate", { target: "pve1" }));
    expect(ha.status).toBe(500);
    expect(ha.message).toContain("can't migrate running VM without --online");
    expect(sim.state.tasks).toEqual([]);
  });

  it("a bad token gets 401 `authentication failure`, answered after a delay (pveproxy)", async () => {
    await start({ authFailureDelayMs: 300 });
    const wrong = simClient([sim.url], { requestTimeoutMs: 3000 }, "00000000-1111-2222-3333-444444444444");
    const err = await apiError(wrong.request("GET", "/cluster/status"));
    expect(err.status).toBe(401);
    expect(err.message).toContain("authentication failure");
  });

  it("HA recovery (pve-ha-manager steal_service + LRM start): start hooks on the new node, none on the dead one; its RRD status stays the dead node's", async () => {
    const hooks: SimHookEvent[] = [];
    const client = await start({ onHook: (e) => hooks.push(e), rrdIntervalMs: 60_000 });
    await sim.setNodeOnline("pve2", false);
    sim.recoverVm(102, "pve3");
    // Config stolen, not started yet: /cluster/resources still says running (keyed by vmid).
    expect(await resource(client, 102)).toMatchObject({
      node: "pve3",
      status: "running",
      hastate: "recovery",
    });
    expect(await getLiveStatus(client, { vmid: 102, node: "pve3" })).toEqual({ status: "stopped" });
    await until("the LRM start", () => hooks.length === 2);
    expect(hooks).toEqual([
      { node: "pve3", vmid: 102, phase: "pre-start" },
      { node: "pve3", vmid: 102, phase: "post-start" },
    ]);
    expect(await getLiveStatus(client, { vmid: 102, node: "pve3" })).toEqual({ status: "running" });
  });

  it("LXC restart migration (pve-container LXC/Migrate.pm): stop hooks on the source, plain start hooks on the target", async () => {
    const hooks: SimHookEvent[] = [];
    await start({ onHook: (e) => hooks.push(e) });
    const upid = sim.migrate(200, "pve3", { restart: true });
    await until("the task end", () => sim.state.tasks.some((t) => t.upid === upid && t.endtime));
    expect(hooks).toEqual([
      { node: "pve2", vmid: 200, phase: "pre-stop" },
      { node: "pve2", vmid: 200, phase: "post-stop" },
      { node: "pve3", vmid: 200, phase: "pre-start" },
      { node: "pve3", vmid: 200, phase: "post-start" },
    ]);
    expect(sim.state.vm(200)).toMatchObject({ node: "pve3", status: "running" });
  });

  it("hiddenVmids: a guest without VM.Audit is left out of /cluster/resources and refused with 403 on its own paths", async () => {
    const client = await start({ hiddenVmids: [101] });
    expect(await resource(client, 101)).toBeUndefined();
    const err = await apiError(client.request("GET", "/nodes/pve1/qemu/101/status/current"));
    expect(err.status).toBe(403);
    expect(err.message).toContain("Permission check failed (/vms/101, VM.Audit)");
  });
});
