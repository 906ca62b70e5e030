import { messageOf } from "../errors.ts";
import { applyOnNode } from "../remote/apply.ts";
import { convergeNode, type NodeConvergence } from "./converge.ts";
import { type DnsSyncResult, syncDns } from "./dns-sync.ts";
import { observe } from "./observe.ts";
import { dnsWork, nodeWork } from "./pending.ts";
import type { Runtime } from "./runtime.ts";
import { type SwitchReport, switchVm } from "./switch.ts";
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
  local?: NodeConvergence;
  dns?: DnsSyncResult;
  errors: string[];
  /** Journal ids still pending at the end. */
  pending: string[];
}

async function drainJournal(rt: Runtime, report: ReconcileReport): Promise<void> {
  const collect = (r: { done: string[]; failed: Array<{ id: string; error: string }> }) => {
    report.drained.done.push(...r.done);
    report.drained.failed.push(...r.failed.map((f) => ({ id: f.id, error: f.error })));
  };
  collect(await finishHookWork(rt));
  collect(
    await rt.state.drainPending(nodeWork, async (item) => {
      if (item.payload.node === rt.self) await convergeNode(rt, rt.self);
      else await applyOnNode(rt.config, item.payload.node);
    }),
  );
  collect(
    await rt.state.drainPending(dnsWork, async (item) => void (await syncDns(rt, [item.payload.vmid]))),
  );
}

export async function reconcile(rt: Runtime, opts: { dryRun?: boolean } = {}): Promise<ReconcileReport> {
  const dryRun = opts.dryRun ?? false;
  const report: ReconcileReport = {
    node: rt.self,
    dryRun,
    drained: { done: [], failed: [] },
    switched: [],
    errors: [],
    pending: [],
  };
  const step = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      report.errors.push(`${what}: ${messageOf(err)}`);
      rt.log(`${what}: ${messageOf(err)}`);
    }
  };

  if (!dryRun) await step("journal", () => drainJournal(rt, report));

  const world = await observe(rt);
  const hereNow = world.placements.filter((p) => p.node === rt.self && p.status === "running");
  if (!dryRun) {
    for (const p of hereNow) {
      const last = await rt.state.lastApplied.get(p.vmid);
      if (last?.node === rt.self) continue;
      await step(`switch VM ${p.vmid}`, async () => {
        report.switched.push(await switchVm(rt, p.vmid));
      });
    }
  }
  await step("converge", async () => {
    report.local = await convergeNode(rt, rt.self, { dryRun });
  });
  await step("dns", async () => {
    report.dns = await syncDns(
      rt,
      hereNow.map((p) => p.vmid),
      { dryRun },
    );
  });
  if (!dryRun) {
    await step("departures", () => rt.departures.prune(rt.now() - world.config.graceSeconds * 1000));
  }
  for (const journal of [rt.state.local, rt.state.cluster]) {
    await step("journal list", async () => {
      for (const item of await journal.list()) report.pending.push(item.id);
    });
  }
  report.pending = [...new Set(report.pending)].sort();
  return report;
}

/** 0 converged, 3 some work still journaled, 2 a peer failed and nothing could be finished. */
export function reconcileExitCode(r: ReconcileReport): 0 | 2 | 3 {
  if (r.errors.length === 0 && r.pending.length === 0) return 0;
  return r.local ? 3 : 2;
}
