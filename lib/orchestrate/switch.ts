import { messageOf } from "../errors.ts";
import { applyOnNode } from "../remote/apply.ts";
import type { JournalKind } from "../state/index.ts";
import { convergeNode, type NodeConvergence } from "./converge.ts";
import { type DnsSyncResult, syncDns } from "./dns-sync.ts";
import { observe } from "./observe.ts";
import { dnsWork, nodeWork } from "./pending.ts";
import type { Runtime } from "./runtime.ts";

// The switch: a VM now runs on this node. In order, each step journaled
// before it runs and cleared after it succeeded:
//   1. remember where it came from (grace forwarding on the old node),
//   2. this node's forwards and routes,
//   3. the old node, over ssh: its entries turn into grace forwards,
//   4. DNS, compare-and-swap to this node's address.
// A step that fails stays in the journal and the next run (reconcile, or the
// next event) finishes it; the steps after it still run.

export interface StepOutcome<T> {
  ok: boolean;
  value?: T;
  error?: string;
}

export interface SwitchReport {
  vmid: number;
  to: string;
  from?: string;
  skipped?: string;
  local?: StepOutcome<NodeConvergence>;
  old?: StepOutcome<{ node: string; changes: string[] }>;
  dns?: StepOutcome<DnsSyncResult>;
  /** Journal ids still pending after this switch. */
  pending: string[];
}

/** Runs one step under a journal item; its failure is recorded, reported, and not thrown. */
export async function journaledStep<P, T>(
  rt: Runtime,
  kind: JournalKind<P>,
  payload: P,
  step: () => Promise<T>,
): Promise<StepOutcome<T>> {
  const { item, journal } = await rt.state.recordPending(kind, payload);
  try {
    const value = await step();
    await journal.markDone(item);
    return { ok: true, value };
  } catch (err) {
    await journal.markFailed(item, err).catch(() => {});
    rt.log(`${item.id}: ${messageOf(err)} (kept in the journal)`);
    return { ok: false, error: messageOf(err) };
  }
}

/** Fails the DNS step when a name moved under us, so the journal keeps it for the next run. */
async function syncDnsStrict(rt: Runtime, vmid: number): Promise<DnsSyncResult> {
  const r = await syncDns(rt, [vmid]);
  const stale = r.outcomes.filter((o) => o.status === "stale");
  if (stale.length) throw new Error(`names changed meanwhile: ${stale.map((o) => o.name).join(", ")}`);
  return r;
}

export async function switchVm(
  rt: Runtime,
  vmid: number,
  opts: { from?: string } = {},
): Promise<SwitchReport> {
  return rt.state.withVmLock(vmid, async () => {
    const report: SwitchReport = { vmid, to: rt.self, pending: [] };
    const world = await observe(rt, { resolveOn: [rt.self] });
    const placement = world.placements.find((p) => p.vmid === vmid);
    if (!world.config.vms[String(vmid)]) return { ...report, skipped: `VM ${vmid} is not in the config` };
    if (!placement || placement.node !== rt.self || placement.status !== "running") {
      const where = placement ? `${placement.status} on ${placement.node}` : "not in the cluster";
      return { ...report, skipped: `VM ${vmid} is ${where}, not running on ${rt.self}` };
    }

    const last = await rt.state.lastApplied.get(vmid);
    const from = [opts.from, last?.node].find((n) => n && n !== rt.self && world.config.nodes[n]);
    const ip = placement.ip;
    if (from) {
      report.from = from;
      const oldIp = last?.privateIPs[0] ?? ip;
      if (oldIp) await rt.departures.add({ vmid, node: from, ip: oldIp, leftAt: rt.now() });
    }

    report.local = await journaledStep(rt, nodeWork, { node: rt.self }, () => convergeNode(rt, rt.self));
    if (report.local.ok) {
      const node = world.config.nodes[rt.self]!;
      await rt.state.lastApplied.set({
        vmid,
        node: rt.self,
        privateIPs: ip ? [ip] : [],
        publicIPs: [node.publicIPv4, ...(node.publicIPv6 ? [node.publicIPv6] : [])],
        names: world.config.vms[String(vmid)]!.dns,
      });
    }
    if (from) {
      report.old = await journaledStep(rt, nodeWork, { node: from }, () => applyOnNode(world.config, from));
    }
    report.dns = await journaledStep(rt, dnsWork, { vmid }, () => syncDnsStrict(rt, vmid));

    if (!report.local.ok) report.pending.push(`node:${rt.self}`);
    if (report.old && !report.old.ok) report.pending.push(`node:${from}`);
    if (!report.dns.ok) report.pending.push(`dns:vm:${vmid}`);
    return report;
  });
}

/** Exit code of a switch: 0 all done, 3 some of it journaled, 2 nothing could be done. */
export function switchExitCode(r: SwitchReport): 0 | 2 | 3 {
  if (r.skipped || r.pending.length === 0) return 0;
  return r.local?.ok || r.old?.ok || r.dns?.ok ? 3 : 2;
}
