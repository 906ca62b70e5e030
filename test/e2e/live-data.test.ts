import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getLiveStatus } from "../../lib/cluster/live.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { computeDesired } from "../../lib/desired/compute.ts";
import { runHook } from "../../lib/orchestrate/hook.ts";
import { preflight, runMigration } from "../../lib/orchestrate/migrate.ts";
import { observe } from "../../lib/orchestrate/observe.ts";
import { type HookWork, hookWork } from "../../lib/orchestrate/pending.ts";
import { createRuntime, type Runtime } from "../../lib/orchestrate/runtime.ts";
import { switchVm } from "../../lib/orchestrate/switch.ts";
import { runHookWorker } from "../../lib/orchestrate/worker.ts";
import type { SimHookEvent } from "../../lib/sim/state.ts";
import { dig } from "../support/named.ts";
import { missing } from "../support/requirements.ts";
import { until } from "../support/until.ts";
import { type Harness, startHarness } from "./harness.ts";

// Decisions about the one VM being switched or stopped come from live data
// (its config file's place in pmxcfs, GET .../status/current), never from the
// RRD-fed status of /cluster/resources, which the sim keeps ~10 s behind like
// Proxmox. The hook runs in this process (runHook, the same code the bundle
// runs) with its worker started in-process too, so tests can order them.

const A = (h: Harness, name: string) => dig(h.primary.port, name, "A");

describe.skipIf(missing({ bins: ["named", "dig", "tsig-keygen"] }))("live data for the one VM", () => {
  let h: Harness;
  let deleteOnStop: string;
  /** Workers the in-process hook started, by what they were for; queued when `hold` is set. */
  const workers: Array<Promise<void>> = [];
  const held: Array<() => Promise<void>> = [];
  let hold = false;
  const runtimes = new Map<string, Runtime>();

  async function runtimeFor(configFile: string, node: string): Promise<Runtime> {
    const key = `${configFile}:${node}`;
    if (!runtimes.has(key))
      runtimes.set(key, createRuntime(await loadConfig(configFile), { node, log: () => {} }));
    return runtimes.get(key)!;
  }

  /** `<script> <vmid> <phase>` as Proxmox runs it, in this process. */
  async function hook(
    node: string,
    vmid: number,
    phase: string,
    opts: { from?: string; config?: string } = {},
  ) {
    const configFile = opts.config ?? h.configFile;
    process.env.PVEMIGRATE_DNS_CONFIG = configFile;
    const env = { PVEMIGRATE_DNS_NODE: node, ...(opts.from ? { PVE_MIGRATED_FROM: opts.from } : {}) };
    const code = await runHook([String(vmid), phase], {
      env,
      spawnWorker: (_ctx, id, workPhase: HookWork["phase"]) => {
        const start = async () => runHookWorker(await runtimeFor(configFile, node), id, workPhase);
        if (hold) held.push(start);
        else workers.push(start());
      },
    });
    expect(code).toBe(0);
  }
  const settle = async () => {
    await Promise.all(workers.splice(0));
  };

  beforeAll(async () => {
    h = await startHarness({
      sim: { rrdIntervalMs: 10_000, migrationDelayMs: 1500 },
      config: (doc) => {
        doc.migrationWatchSeconds = 60;
      },
    });
    deleteOnStop = h.writeConfigVariant("delete-on-stop", (doc) => {
      (doc.dns as Record<string, unknown>).deleteOnStop = true;
    });
    // Where the VMs start: their names at their nodes.
    await switchVm(h.runtime("pve1"), 101);
    await switchVm(h.runtime("pve2"), 102);
    expect(await A(h, "mail.example.org")).toEqual(["203.0.113.10"]);
    expect(await A(h, "shop.example.org")).toEqual(["203.0.113.20"]);
  }, 90_000);
  afterAll(async () => {
    await Promise.allSettled(workers);
    await h?.stop();
  });

  it("live migration with a slow unlock and RRD 10 s behind: the hook's worker switches once the VM resumed on the target, before the unlock", async () => {
    h.sim.setUnlockDelay(6000);
    h.sim.setHookListener((e: SimHookEvent) => {
      if (e.phase === "pre-start" || e.phase === "post-start")
        workers.push(hook(e.node, e.vmid, e.phase, e.migratedFrom ? { from: e.migratedFrom } : {}));
    });
    h.sim.migrate(101, "pve2");
    await until(
      "mail.example.org -> pve2",
      async () => (await A(h, "mail.example.org")).join() === "203.0.113.20",
    );
    const seen = h.sim.events.filter((e) => e.vmid === 101).map((e) => e.what);
    // The switch followed the resume on the target, and came before `qm unlock`.
    expect(seen).toContain("resumed");
    expect(seen).not.toContain("unlocked");
    expect(h.sim.state.vm(101).lock).toBe("migrate");
    h.sim.setHookListener(() => {});
    await until("the unlock", () => h.sim.events.some((e) => e.vmid === 101 && e.what === "task-ended"));
    await settle();
    expect(await h.runtime("pve2").state.local.list()).toEqual([]);
  }, 40_000);

  it("a paused VM is present: it keeps its forwards and names (QMP states are not `stopped`)", async () => {
    h.sim.setQmpStatus(101, "paused");
    h.sim.tickRrd();
    const rt = h.runtime("pve2");
    const world = await observe(rt);
    const desired = computeDesired(world.config, world.placements, [], rt.now());
    expect(desired.nodes.pve2!.forwards.filter((f) => f.vmid === 101).map((f) => f.publicPort)).toEqual([
      2222, 51820,
    ]);
    expect(desired.dns.filter((d) => d.vmid === 101).map((d) => d.a)).toEqual([["203.0.113.20"]]);
    expect(await getLiveStatus(rt.proxmox, { vmid: 101, node: "pve2" })).toEqual({
      status: "running",
      qmpstatus: "paused",
    });
    h.sim.setQmpStatus(101, "running");
  });

  it("post-stop does not converge on the stale `running` of /cluster/resources (deleteOnStop withdraws the names at once)", async () => {
    // No broadcast for a minute: /cluster/resources keeps saying running.
    h.sim.setRrdInterval(60_000);
    h.sim.stopVm(102);
    const resources = (await h
      .runtime("pve2")
      .proxmox.request("GET", "/cluster/resources", { type: "vm" })) as Array<{
      vmid: number;
      status: string;
    }>;
    expect(resources.find((r) => r.vmid === 102)?.status).toBe("running");
    await hook("pve2", 102, "pre-stop", { config: deleteOnStop });
    await hook("pve2", 102, "post-stop", { config: deleteOnStop });
    await settle();
    expect(await A(h, "shop.example.org")).toEqual([]);
    h.sim.startVm(102);
    h.sim.setRrdInterval(10_000);
  }, 30_000);

  it("a late post-stop of a failed attempt (qemu-server >= 9.1.13 runs it on the target) does not replace the next attempt's pending post-start", async () => {
    h.sim.setUnlockDelay(0);
    // Attempt 1 to pve3 fails in phase2: `migration problems`, the target is stopped.
    h.sim.failNextMigration("VM 101 qmp command 'migrate' failed", "phase2");
    h.sim.migrate(101, "pve3");
    await until(
      "attempt 1 to end",
      () => h.sim.events.filter((e) => e.vmid === 101).at(-1)?.what === "task-ended",
    );
    expect(h.sim.state.vm(101).node).toBe("pve2");
    // Attempt 2: its target hooks record where the VM comes from; then the post-stop of
    // attempt 1 arrives late (the old `qm cleanup` path), and only then do the workers start.
    hold = true;
    h.sim.migrate(101, "pve3");
    await hook("pve3", 101, "pre-start", { from: "pve2" });
    await hook("pve3", 101, "post-start", { from: "pve2" });
    await hook("pve3", 101, "post-stop");
    const pending = (await h.runtime("pve3").state.local.list(hookWork)).map((i) => i.payload);
    expect(pending).toContainEqual({ vmid: 101, phase: "post-start", migratedFrom: "pve2" });
    hold = false;
    workers.push(...held.splice(0).map((start) => start()));
    await until(
      "mail.example.org -> pve3",
      async () => (await A(h, "mail.example.org")).join() === "203.0.113.30",
    );
    await settle();
    expect(await h.runtime("pve3").state.local.list()).toEqual([]);
  }, 40_000);

  it("`migrate`: `migration problems` after the config moved (unlock failed) still switches and says why; a phase2 failure changes nothing and says why", async () => {
    h.sim.setUnlockDelay(0);
    const ip = { pve1: "203.0.113.10", pve2: "203.0.113.20", pve3: "203.0.113.30" } as const;
    const from = h.sim.state.vm(101).node as keyof typeof ip;
    const [to, third] = (["pve1", "pve2", "pve3"] as const).filter((n) => n !== from) as [
      keyof typeof ip,
      keyof typeof ip,
    ];
    const rt = h.runtime(from);
    await switchVm(rt, 101);
    h.sim.failNextMigration(`unable to open file '/etc/pve/nodes/${to}/qemu-server/101.conf.tmp'`, "unlock");
    const summary = await runMigration(rt, await preflight(rt, 101, to), () => {}, { noWait: true });
    expect(summary.taskProblems).toBe(
      `migration problems: failed to clear migrate lock - unable to open file '/etc/pve/nodes/${to}/qemu-server/101.conf.tmp'`,
    );
    expect(h.sim.state.vm(101)).toMatchObject({ node: to, lock: "migrate" });
    expect(await A(h, "mail.example.org")).toEqual([ip[to]]);

    // `qm unlock 101` by the admin; then a migration that fails in phase2: the VM stays.
    h.sim.state.setLock(h.sim.state.vm(101), undefined);
    h.sim.failNextMigration("VM 101 qmp command 'migrate' failed - got timeout", "phase2");
    const rtTo = h.runtime(to);
    const err = await runMigration(rtTo, await preflight(rtTo, 101, third), () => {}, { noWait: true }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toBe(
      "migration of VM 101 failed: migration problems: online migrate failure - VM 101 qmp command 'migrate' failed - got timeout; nothing changed",
    );
    expect(h.sim.state.vm(101).node).toBe(to);
    expect(await A(h, "mail.example.org")).toEqual([ip[to]]);
  }, 60_000);
});
