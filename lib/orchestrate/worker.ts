import { access } from "node:fs/promises";
import { join } from "node:path";
import type { SnapshotVm } from "../cluster/index.ts";
import { getSnapshot } from "../cluster/index.ts";
import { messageOf } from "../errors.ts";
import type { DrainResult, JournalItem } from "../state/index.ts";
import { convergeNode } from "./converge.ts";
import { syncDns } from "./dns-sync.ts";
import { observe } from "./observe.ts";
import { type HookWork, hookWork } from "./pending.ts";
import type { Runtime } from "./runtime.ts";
import { switchVm } from "./switch.ts";

// The hook's detached worker: the slow half of a hook event. For a live
// migration it first waits until the migration really completed: Proxmox
// runs the target's post-start hook when the incoming QEMU starts, BEFORE
// memory transfer and switch-over, while the VM still runs on the source.

export type MigrationState = "done" | "failed" | "running";

/** PURE: has a live migration to `self` finished, failed, or is it still running? */
export function migrationState(
  vm: SnapshotVm | undefined,
  self: string,
  configMoved: boolean,
): MigrationState {
  // The VM is gone (destroyed meanwhile): there is nothing to switch.
  if (!vm) return "failed";
  if (vm.node === self && vm.status === "running" && vm.lock !== "migrate") return "done";
  // qemu-server moves the config to the target once the VM state is across.
  if (configMoved && vm.status !== "stopped") return "done";
  const migrating = vm.lock === "migrate" || vm.hastate === "migrate";
  // The migration ended (no lock) and the VM stayed where it was: it failed, the target was stopped.
  if (vm.node !== self && !migrating) return "failed";
  // Here but stopped, nothing in flight (stopped after arriving, or a reboot killed the worker):
  // no switch to make; a later start runs its own hooks.
  if (vm.node === self && vm.status !== "running" && !migrating) return "failed";
  return "running";
}

async function configMovedHere(rt: Runtime, vmid: number): Promise<boolean> {
  for (const dir of ["qemu-server", "lxc"]) {
    try {
      await access(join(rt.config.pveRoot, "nodes", rt.self, dir, `${vmid}.conf`));
      return true;
    } catch {}
  }
  return false;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for a live migration to this node to finish; "failed" means: change nothing. */
export async function waitForMigration(rt: Runtime, vmid: number, pollMs = 500): Promise<MigrationState> {
  const deadline = rt.now() + rt.config.migrationWatchSeconds * 1000;
  while (rt.now() < deadline) {
    try {
      const vm = (await getSnapshot(rt.proxmox)).vms.find((v) => v.vmid === vmid);
      const state = migrationState(vm, rt.self, await configMovedHere(rt, vmid));
      if (state !== "running") return state;
    } catch (err) {
      rt.log(`VM ${vmid}: waiting for the migration: ${messageOf(err)}`);
    }
    await sleep(pollMs);
  }
  return "running";
}

/** Polls the API until `done` holds for the VM (true) or the time is up (false). */
async function waitUntil(
  rt: Runtime,
  vmid: number,
  done: (vm: SnapshotVm | undefined) => boolean,
  timeoutMs: number,
  pollMs = 300,
): Promise<boolean> {
  const deadline = rt.now() + timeoutMs;
  while (rt.now() < deadline) {
    if (done((await getSnapshot(rt.proxmox)).vms.find((v) => v.vmid === vmid))) return true;
    await sleep(pollMs);
  }
  return false;
}

/** Waits (briefly) until the API shows the VM running here after a plain start. */
function waitForStart(rt: Runtime, vmid: number): Promise<boolean> {
  return waitUntil(
    rt,
    vmid,
    (vm) => vm?.node === rt.self && vm.status === "running" && vm.lock !== "migrate",
    30_000,
  );
}

/** Configured in the file, or by a Notes block (observe merges those). */
async function managed(rt: Runtime, vmid: number): Promise<boolean> {
  if (rt.config.vms[String(vmid)]) return true;
  return Boolean((await observe(rt)).config.vms[String(vmid)]);
}

async function perform(rt: Runtime, work: HookWork, wait: boolean): Promise<void> {
  if (!(await managed(rt, work.vmid))) {
    rt.log(`VM ${work.vmid}: not in the config (file or Notes); nothing to do`);
    return;
  }
  if (work.phase === "post-stop") {
    // Converge from what the API says once it has caught up with the stop. No
    // "pretend it is stopped" override: after a quick restart (stop + start)
    // the VM runs again and must keep its forwards.
    if (wait) await waitUntil(rt, work.vmid, (vm) => vm?.node !== rt.self || vm.status !== "running", 10_000);
    await convergeNode(rt, rt.self);
    if (rt.config.dns.deleteOnStop) await syncDns(rt, [work.vmid]);
    return;
  }
  if (work.migratedFrom) {
    const state = wait
      ? await waitForMigration(rt, work.vmid)
      : migrationState(
          (await getSnapshot(rt.proxmox)).vms.find((v) => v.vmid === work.vmid),
          rt.self,
          await configMovedHere(rt, work.vmid),
        );
    if (state === "failed") {
      rt.log(`VM ${work.vmid}: migration from ${work.migratedFrom} did not complete; nothing changed`);
      return;
    }
    if (state === "running")
      throw new Error(`VM ${work.vmid}: migration from ${work.migratedFrom} still running`);
  } else if (wait && !(await waitForStart(rt, work.vmid))) {
    rt.log(`VM ${work.vmid}: not running on ${rt.self}; nothing to switch`);
    return;
  }
  // Reconcile (wait = false) does not queue behind a worker that is switching this VM already.
  const report = await switchVm(rt, work.vmid, {
    ...(work.migratedFrom ? { from: work.migratedFrom } : {}),
    ...(wait ? {} : { lockWaitMs: 5000 }),
  });
  if (report.skipped) rt.log(report.skipped);
}

/** The detached worker: finishes the hook event recorded for `vmid`. */
export async function runHookWorker(rt: Runtime, vmid: number): Promise<void> {
  const item = (await rt.state.local.list(hookWork)).find((i) => i.payload.vmid === vmid);
  if (!item) return;
  await finishOne(rt, item, true);
}

async function finishOne(rt: Runtime, item: JournalItem<HookWork>, wait: boolean): Promise<void> {
  try {
    await perform(rt, item.payload, wait);
    await rt.state.local.markDone(item);
  } catch (err) {
    await rt.state.local.markFailed(item, err);
    throw err;
  }
}

/** Reconcile's share: hook events a worker left unfinished (crash, reboot); never waits. */
export async function finishHookWork(rt: Runtime): Promise<DrainResult> {
  return rt.state.drainPending(hookWork, async (item) => {
    // An event older than any migration may take: nothing left to do.
    const age = rt.now() - Date.parse(item.createdAt);
    if (age > rt.config.migrationWatchSeconds * 1000) {
      rt.log(`${item.id}: dropped (${Math.round(age / 1000)} s old)`);
      return;
    }
    await perform(rt, item.payload, false);
  });
}
