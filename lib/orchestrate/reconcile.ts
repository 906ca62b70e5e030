import type { RunSnapshot } from "../cluster/run-snapshot.ts";
import type { Departure } from "../desired/compute.ts";
import { graceEndsAt, moveEndsAt, type PlannedMove } from "../desired/ttl.ts";
import { messageOf } from "../errors.ts";
import { UnsafePlan } from "../plan/safety.ts";
import { applyOnNode } from "../remote/apply.ts";
import { staleByVm, switchArrivals } from "./arrivals.ts";
import { convergeNode, type NodeConvergence } from "./converge.ts";
import { type DnsSyncResult, syncDns, withdrawStrict } from "./dns-sync.ts";
import { confirmAgreement } from "./grace-agreement.ts";
import { observe, type World } from "./observe.ts";
import { dnsWork, nodeWork, withdrawWork } from "./pending.ts";
import { runStage } from "./pipeline.ts";
import { RunRecords, runSnapshot } from "./run-view.ts";
import type { Runtime } from "./runtime.ts";
import type { SwitchReport } from "./switch.ts";
import { vmsToSwitch } from "./switch-due.ts";
import { finishHookWork } from "./worker.ts";

// The timer's job on every node, every minute: finish what earlier runs left
// in the journal, switch VMs that arrived here without a hook (offline
// migration, HA recovery, a missed hook), converge this node (a flushed
// ruleset, a restarted haproxy, a VM that left while we were down), and fix
// DNS drift of the VMs this node hosts.

export interface ReconcileReport {
  node: string;
  dryRun: boolean;
  drained: { done: string[]; failed: Array<{ id: string; error: string }> };
  switched: SwitchReport[];
  /** VMs another process was switching at the time (the hook's worker): left to it. */
  busy: number[];
  local?: NodeConvergence;
  dns?: DnsSyncResult;
  /** What VMs' Notes asked for and did not get (escaped lines). */
  notes: string[];
  errors: string[];
  /** Journal ids still pending at the end. */
  pending: string[];
  /** Plans refused by the safety threshold (safety.maxChangePercent); nothing of them was applied. */
  unsafe: string[];
}

async function drainJournal(rt: Runtime, report: ReconcileReport, snapshot: RunSnapshot): Promise<void> {
  const collect = (r: { done: string[]; failed: Array<{ id: string; error: string }> }) => {
    report.drained.done.push(...r.done);
    report.drained.failed.push(...r.failed.map((f) => ({ id: f.id, error: f.error })));
  };
  collect(await finishHookWork(rt));
  collect(
    await rt.state.drainPending(nodeWork, async (item) => {
      const { node } = item.payload;
      // A node removed from the config has nothing left to converge: drop its work.
      if (!rt.config.nodes[node]) rt.log(`${item.id}: node ${node} is no longer in the config; dropped`);
      else if (node === rt.self) await convergeNode(rt, rt.self, { snapshot });
      else await applyOnNode(rt.config, node);
    }),
  );
  // Names wait for the node they would point at when its convergence is still pending (switch.ts).
  const unconverged = new Set(
    [...(await rt.state.cluster.list(nodeWork)), ...(await rt.state.local.list(nodeWork))].map(
      (i) => i.payload.node,
    ),
  );
  // Every guest's names in one plan (one look at the cluster, UPDATEs batched), each item marked on its own.
  collect(
    await rt.state.drainPendingAll(dnsWork, async (items) => {
      const failures = new Map<string, unknown>();
      const ready: number[] = [];
      for (const { id, payload } of items) {
        if (payload.after && unconverged.has(payload.after))
          failures.set(
            id,
            new Error(`names not moved: waiting for node:${payload.after} (its forwards are not in place)`),
          );
        else ready.push(payload.vmid);
      }
      if (ready.length === 0) return failures;
      const r = await syncDns(rt, ready, { snapshot });
      for (const [vmid, why] of staleByVm(r)) failures.set(dnsWork.idOf({ vmid }), new Error(why));
      return failures;
    }),
  );
  collect(
    await rt.state.drainPending(
      withdrawWork,
      async (item) => void (await withdrawStrict(rt, item.payload.name)),
    ),
  );
}

type Step = (what: string, fn: () => Promise<void>) => Promise<void>;

export interface ReconcileOptions {
  dryRun?: boolean;
  /** Apply plans over the safety threshold. */
  force?: boolean;
}

export async function reconcile(rt: Runtime, opts: ReconcileOptions = {}): Promise<ReconcileReport> {
  // Passed to every stage; runStage (pipeline.ts) is where a dry run stops before applying.
  const mode = { dryRun: opts.dryRun ?? false };
  // One look at the cluster for the whole run; a step under a lock someone held since reads again (run-view.ts).
  const snapshot = runSnapshot(rt);
  const records = new RunRecords(rt);
  const safety = opts.force ? undefined : rt.config.safety;
  const report: ReconcileReport = {
    node: rt.self,
    dryRun: mode.dryRun,
    drained: { done: [], failed: [] },
    switched: [],
    busy: [],
    notes: [],
    errors: [],
    pending: [],
    unsafe: [],
  };
  const step: Step = async (what, fn) => {
    try {
      await fn();
    } catch (err) {
      if (err instanceof UnsafePlan) report.unsafe.push(err.message);
      report.errors.push(`${what}: ${messageOf(err)}`);
      rt.log(`${what}: ${messageOf(err)}`, "error");
    }
  };

  // Nothing to plan here: what earlier runs left is the plan.
  await runStage(
    {
      plan: async () => ({ changes: [] }),
      apply: async () => {
        // A worker SIGKILLed on this node may have left a cluster lock that other nodes would wait 120 s for.
        await step("locks", async () => void (await rt.state.breakDeadClusterLocks()));
        await step("journal", () => drainJournal(rt, report, snapshot));
      },
    },
    mode,
  );

  let world: World;
  try {
    world = await observe(rt, { snapshot });
  } catch (err) {
    // Without the cluster's state nothing else can be decided this run.
    report.errors.push(`cluster: ${messageOf(err)}`);
    await listPending(rt, report);
    return report;
  }
  report.notes = world.notes;
  const hereNow = world.placements.filter((p) => p.node === rt.self && p.status === "running");
  await runStage(
    {
      plan: async () => ({
        changes: [],
        vmids: vmsToSwitch(rt.self, hereNow, await records.lastApplied()),
      }),
      apply: ({ vmids }) =>
        step(`switch VMs ${vmids.join(", ")}`, async () => {
          // The switch writes their records: the steps after it list them again.
          if (vmids.length > 0) records.forget();
          const r = await switchArrivals(rt, vmids, snapshot);
          report.switched.push(...r.switched);
          report.busy.push(...r.busy);
        }),
    },
    mode,
  );
  // Before converging: a server still answering a departed VM's old address
  // extends this node's grace (grace-agreement.ts), so the forwards stay.
  await runStage(
    {
      plan: async () => ({ changes: [] }),
      apply: () =>
        step("grace", async () => {
          for (const line of await confirmAgreement(rt, world)) rt.log(line);
        }),
    },
    mode,
  );
  await step("converge", async () => {
    report.local = await convergeNode(rt, rt.self, {
      ...mode,
      snapshot,
      lastApplied: () => records.lastApplied(),
      ...(safety ? { safety } : {}),
    });
    if (report.local.unsafe) report.unsafe.push(report.local.unsafe);
  });
  // Names point here only while this node's forwards are in place; withdrawing
  // names nobody claims any more does not depend on them.
  const vmids = report.local ? hereNow.map((p) => p.vmid) : [];
  if (!report.local && hereNow.length > 0)
    rt.log(
      `dns: names of VM ${hereNow.map((p) => p.vmid).join(", ")} not checked: this node did not converge`,
    );
  await step("dns", async () => {
    // Every node withdraws names nobody claims any more (under the dns lock: the first one does it).
    report.dns = await syncDns(rt, vmids, {
      ...mode,
      withdraw: "unclaimed",
      snapshot,
      // Steady runs: the names read while the zone's serial stays the same are not read again (a switch's
      // own names change, so its read is never reused: it would only add an SOA round trip to the switch).
      reuseReads: true,
      ...(safety ? { safety } : {}),
      // Journaled, so the drift is finished by whichever run reaches a master first.
      failed: async () => {
        for (const vmid of vmids) await rt.state.recordPending(dnsWork, { vmid });
      },
    });
    if (report.dns.unsafe) report.unsafe.push(report.dns.unsafe);
  });
  await runStage({ plan: () => planPrune(rt, world, records), apply: (p) => prune(rt, p, step) }, mode);
  await listPending(rt, report);
  return report;
}

/** What the end of the run prunes: which departures stay, and when a planned move is over. */
interface PrunePlan {
  changes: [];
  cutoff: number;
  keepDeparture: (d: Departure) => boolean;
  moveOver: (m: PlannedMove) => boolean;
}

async function planPrune(rt: Runtime, world: World, records: RunRecords): Promise<PrunePlan> {
  // A departure whose VM was not switched anywhere yet (its last-applied record
  // still names the old node) is kept: dropping it would make the old node
  // record it again with a fresh grace period, forever.
  const lastByVmid = new Map((await records.lastApplied()).map((r) => [r.vmid, r.node]));
  const { config, departures, moves } = world;
  const now = rt.now();
  return {
    changes: [],
    cutoff: now - config.graceSeconds * 1000,
    // Grace can outlast graceSeconds: a planned move's old TTL, servers not yet agreeing.
    keepDeparture: (d) => lastByVmid.get(d.vmid) === d.node || graceEndsAt(config, d, moves, now) > now,
    // A move whose lowered TTL is over: the DNS step already restored the TTL.
    moveOver: (m) => moveEndsAt(config, m, departures, moves) <= now,
  };
}

async function prune(rt: Runtime, p: PrunePlan, step: Step): Promise<void> {
  await step("departures", () => rt.departures.prune(p.cutoff, p.keepDeparture));
  await step("moves", () => rt.moves.prune(p.moveOver));
}

async function listPending(rt: Runtime, report: ReconcileReport): Promise<void> {
  for (const journal of [rt.state.local, rt.state.cluster]) {
    try {
      for (const item of await journal.list()) report.pending.push(item.id);
    } catch (err) {
      report.errors.push(`journal list: ${messageOf(err)}`);
    }
  }
  report.pending = [...new Set(report.pending)].sort();
}

/**
 * 1 a plan was over the safety threshold (nothing of it applied; --force);
 * 0 converged, nothing pending; 3 this node converged but work is still
 * journaled for a later run; 2 a peer failed and nothing was journaled or
 * this node could not converge.
 */
export function reconcileExitCode(r: ReconcileReport): 0 | 1 | 2 | 3 {
  if (r.unsafe.length > 0) return 1;
  if (r.errors.length === 0 && r.pending.length === 0) return 0;
  return r.local && r.pending.length > 0 ? 3 : 2;
}
