import { setTimeout as sleep } from "node:timers/promises";
import type { SnapshotVm } from "../cluster/index.ts";
import { getSnapshot } from "../cluster/index.ts";
import { configNode, getLiveStatus } from "../cluster/live.ts";
import { messageOf } from "../errors.ts";
import { type DrainResult, type JournalItem, runRecorded } from "../state/index.ts";
import { convergeNode } from "./converge.ts";
import { syncDns } from "./dns-sync.ts";
import { observe } from "./observe.ts";
import { type HookWork, hookWork } from "./pending.ts";
import type { Runtime } from "./runtime.ts";
import { BUSY_VM_WAIT_MS, switchVm } from "./switch.ts";

// The hook's detached worker: the slow half of a hook event. For a live
// migration it first waits until the migration really completed: Proxmox
// runs the target's post-start hook when the incoming QEMU starts, BEFORE
// memory transfer and switch-over, while the VM still runs on the source.
//
// Every decision about this one VM comes from immediate data, never from the
// RRD-fed `status` of /cluster/resources (~10 s behind, and showing a dead
// node's guests as running for minutes): where its config file is in pmxcfs,
// and its live status on this node (GET .../status/current). See live.ts.

export type MigrationState = "done" | "failed" | "running";

/** What the worker knows about the VM right now, all of it immediate. */
export interface GuestNow {
  /** The node whose pmxcfs directory holds its config (/cluster/resources `node` says the same). */
  node: string;
  /** Asked only when `node` is this node: its process exists, in any QMP state (paused, postmigrate, ...). */
  present?: boolean;
  /** A migration is in flight: `lock: migrate` in its config, or HA's `hastate: migrate`. */
  migrating: boolean;
}

/** PURE: has a live migration to `self` finished, failed, or is it still running? */
export function migrationState(guest: GuestNow | undefined, self: string): MigrationState {
  // The VM is gone (destroyed meanwhile): there is nothing to switch.
  if (!guest) return "failed";
  // QemuMigrate::phase3_cleanup moves the config here, resumes the VM here, and only
  // then stops the source, frees disks and unlocks (which can take long): switch now,
  // lock or not. A paused VM is here too (it was paused before, or the resume failed).
  if (guest.node === self && guest.present) return "done";
  // Still on the source (phase1/phase2), or HA has only queued it: wait.
  if (guest.migrating) return "running";
  // Over, and the VM is not here: the migration failed (the target was stopped), or it
  // sits here stopped with nothing in flight: no switch to make (a later start runs its hooks).
  return "failed";
}

/** The VM as it is now: config location from pmxcfs, then the API; live status when it is here. */
async function guestNow(rt: Runtime, vmid: number): Promise<GuestNow | undefined> {
  const inPmxcfs = await configNode(rt.config.pveRoot, vmid);
  let node = inPmxcfs?.node;
  let type = inPmxcfs?.type;
  let vm: SnapshotVm | undefined;
  if (node !== rt.self) {
    // Not here (or no pmxcfs tree): the API has the lock and HA's state.
    vm = (await getSnapshot(rt.proxmox)).vms.find((v) => v.vmid === vmid);
    if (!vm && !inPmxcfs) return undefined;
    node = vm?.node ?? node;
    type = vm?.type ?? type;
  }
  const haMigrating = vm?.hastate === "migrate";
  if (!node || node !== rt.self)
    return { node: node ?? "", migrating: vm?.lock === "migrate" || haMigrating };
  const live = await getLiveStatus(rt.proxmox, { vmid, node, ...(type ? { type } : {}) });
  return {
    node,
    present: live?.status === "running",
    migrating: live?.lock === "migrate" || haMigrating,
  };
}

/** How often the worker looks for the config's arrival here: its half of the "names follow" delay. */
export const MIGRATION_POLL_MS = 25;
/** How often, while the config is elsewhere, it asks the API whether the migration still runs. */
export const MIGRATION_API_EVERY_MS = 1000;

/**
 * PURE: the next look at a migration to `self`. The config's node in pmxcfs is a
 * local read (pmxcfs keeps the cluster's tree in memory), so it is looked at
 * every poll; the API (lock, HA state, live status) only when the config is
 * here (phase3_cleanup moved it: switch now), when there is no pmxcfs answer,
 * or once per `apiEveryMs` to learn that a migration failed (no lock left).
 */
export function nextMigrationLook(
  configOn: string | undefined,
  self: string,
  sinceApiMs: number,
  apiEveryMs = MIGRATION_API_EVERY_MS,
): "api" | "wait" {
  if (configOn === undefined || configOn === self) return "api";
  return sinceApiMs >= apiEveryMs ? "api" : "wait";
}

/** Waits for a live migration to this node to finish; "failed" means: change nothing. */
export async function waitForMigration(
  rt: Runtime,
  vmid: number,
  pollMs = MIGRATION_POLL_MS,
): Promise<MigrationState> {
  const deadline = rt.now() + rt.config.migrationWatchSeconds * 1000;
  let lastApi = Number.NEGATIVE_INFINITY;
  while (rt.now() < deadline) {
    try {
      const configOn = (await configNode(rt.config.pveRoot, vmid))?.node;
      if (nextMigrationLook(configOn, rt.self, rt.now() - lastApi) === "api") {
        lastApi = rt.now();
        const state = migrationState(await guestNow(rt, vmid), rt.self);
        if (state !== "running") return state;
      }
    } catch (err) {
      rt.log(`VM ${vmid}: waiting for the migration: ${messageOf(err)}`);
    }
    await sleep(pollMs);
  }
  return "running";
}

/** Waits (briefly) until the VM is present here after a plain start (live status, not the RRD's). */
async function waitForStart(rt: Runtime, vmid: number, timeoutMs = 30_000, pollMs = 250): Promise<boolean> {
  const deadline = rt.now() + timeoutMs;
  while (rt.now() < deadline) {
    const guest = await guestNow(rt, vmid).catch((err: unknown) => {
      rt.log(`VM ${vmid}: waiting for the start: ${messageOf(err)}`);
      return undefined;
    });
    if (guest?.node === rt.self && guest.present) return true;
    await sleep(pollMs);
  }
  return false;
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
    // post-stop runs once the process is gone (qemu-server vm_stop_cleanup), so the
    // live status already says so, while /cluster/resources shows `running` for up
    // to ~10 s more. Converge from the live status: no "pretend it is stopped"
    // either, after a quick restart (stop + start) the VM runs again and keeps its
    // forwards. Without a live answer this fails and stays journaled.
    const guest = await guestNow(rt, work.vmid);
    rt.log(
      `VM ${work.vmid} post-stop: ${guest?.node === rt.self ? (guest.present ? "running again here" : "stopped here") : `config on ${guest?.node || "no node"}`}`,
    );
    await convergeNode(rt, rt.self, { live: [work.vmid] });
    if (rt.config.dns.deleteOnStop) await syncDns(rt, [work.vmid], { live: [work.vmid] });
    return;
  }
  if (work.migratedFrom) {
    const state = wait
      ? await waitForMigration(rt, work.vmid)
      : migrationState(await guestNow(rt, work.vmid), rt.self);
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
    ...(wait ? {} : { lockWaitMs: BUSY_VM_WAIT_MS }),
  });
  if (report.skipped) rt.log(report.skipped);
}

/** The detached worker: finishes the hook event recorded for `vmid` (of that phase, when given). */
export async function runHookWorker(rt: Runtime, vmid: number, phase?: HookWork["phase"]): Promise<void> {
  const items = (await rt.state.local.list(hookWork)).filter(
    (i) => i.payload.vmid === vmid && (!phase || i.payload.phase === phase),
  );
  for (const item of items) await finishOne(rt, item, true);
}

async function finishOne(rt: Runtime, item: JournalItem<HookWork>, wait: boolean): Promise<void> {
  await runRecorded({ journal: rt.state.local, item }, () => perform(rt, item.payload, wait));
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
