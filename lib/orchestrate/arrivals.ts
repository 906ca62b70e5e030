import type { RunSnapshot } from "../cluster/run-snapshot.ts";
import type { Departure } from "../desired/compute.ts";
import { messageOf } from "../errors.ts";
import { publishSwitch } from "../metrics/events.ts";
import { applyOnNode } from "../remote/apply.ts";
import { LockTimeoutError } from "../state/index.ts";
import { convergeNode } from "./converge.ts";
import { type DnsSyncResult, followPropagation, syncDns } from "./dns-sync.ts";
import { observe } from "./observe.ts";
import { dnsWork, nodeWork } from "./pending.ts";
import type { Runtime } from "./runtime.ts";
import { BUSY_VM_WAIT_MS, journaledStep, type StepOutcome, type SwitchReport } from "./switch.ts";
import { vmsToSwitch } from "./switch-due.ts";
import { switchOrigin } from "./switch-origin.ts";

// Guests that arrived on this node without a hook (an offline migration, an
// HA recovery, a missed hook), switched together by reconcile: the same steps
// as switch.ts, in the same order and each journaled before it runs, but each
// step once for all of them: one look at the cluster (the run's snapshot), one
// convergence of this node (one nft transaction), one apply per old node, and
// one DNS plan whose compare-and-swap writes go out batched per zone (each
// name still carries its own prerequisites). Every guest keeps its own DNS
// journal item, so a crash or a stale name leaves exactly that guest's names
// for the next run. Switching them one by one cost a cluster read, a lock, an
// ssh and an UPDATE per guest: 270 s for 667 guests.

export interface ArrivalsResult {
  switched: SwitchReport[];
  /** Guests another process (the hook's worker, a migrate) holds the lock of: left to it. */
  busy: number[];
}

/** Takes the VM locks of `vmids` one by one; those held elsewhere longer than waitMs are busy. */
async function holdVmLocks(
  rt: Runtime,
  vmids: readonly number[],
  waitMs: number,
): Promise<{ held: number[]; busy: number[]; release: () => Promise<void> }> {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const held: number[] = [];
  const busy: number[] = [];
  const holders: Promise<unknown>[] = [];
  for (const vmid of vmids) {
    const taken = await new Promise<boolean>((resolve, reject) => {
      const holder = rt.state.withVmLock(
        vmid,
        async () => {
          resolve(true);
          await gate;
        },
        { timeoutMs: waitMs },
      );
      holders.push(holder.catch(() => {}));
      holder.catch((err: unknown) => (err instanceof LockTimeoutError ? resolve(false) : reject(err)));
    }).catch(async (err: unknown) => {
      open();
      await Promise.all(holders);
      throw err;
    });
    (taken ? held : busy).push(vmid);
  }
  return {
    held,
    busy,
    release: async () => {
      open();
      await Promise.all(holders);
    },
  };
}

export async function switchArrivals(
  rt: Runtime,
  vmids: readonly number[],
  snapshot: RunSnapshot,
): Promise<ArrivalsResult> {
  if (vmids.length === 0) return { switched: [], busy: [] };
  const start = Date.now();
  const locks = await holdVmLocks(rt, vmids, BUSY_VM_WAIT_MS);
  for (const vmid of locks.busy) rt.log(`VM ${vmid}: being switched by another process; left to it`);
  let switched: SwitchReport[];
  let dns: DnsSyncResult | undefined;
  try {
    ({ switched, dns } = await switchHeld(rt, locks.held, snapshot));
  } finally {
    await locks.release();
  }
  // Who follows the new names (dns.propagation), outside the locks.
  if (dns) {
    await followPropagation(rt, dns, start);
    // One check for all the names written; each guest whose names were written reports it.
    const lines = dns.lines.filter((l) => l.startsWith("propagation: "));
    for (const r of switched) {
      const mine = r.dns?.value;
      if (!mine?.outcomes.some((o) => o.status === "updated")) continue;
      if (dns.propagation) mine.propagation = dns.propagation;
      mine.lines.push(...lines);
      // As switch.ts: every server answering the new address ends the old node's grace a TTL from now.
      const seen = dns.propagation;
      if (r.from && seen)
        await rt.departures
          .markPropagation(r.vmid, r.from, { agreed: seen.agreed, at: rt.now() })
          .catch((err: unknown) =>
            rt.log(`VM ${r.vmid}: agreement not recorded: ${messageOf(err)}`, "warning"),
          );
    }
  }
  for (const r of switched)
    if (!r.skipped && r.dns?.ok)
      publishSwitch({
        vmid: r.vmid,
        at: rt.now(),
        to: r.to,
        ...(r.from ? { from: r.from } : {}),
        seconds: (Date.now() - start) / 1000,
      });
  return { switched, busy: locks.busy };
}

/** The switch of every guest whose lock we hold (switch.ts's steps, each once). */
async function switchHeld(
  rt: Runtime,
  vmids: readonly number[],
  snapshot: RunSnapshot,
): Promise<{ switched: SwitchReport[]; dns?: DnsSyncResult }> {
  const world = await observe(rt, { resolveOn: [rt.self], snapshot });
  const lastApplied = await rt.state.lastApplied.list();
  const lastByVmid = new Map(lastApplied.map((r) => [r.vmid, r]));
  // The hook's worker may have switched some of them while we waited for their locks.
  const due = new Set(vmsToSwitch(rt.self, world.placements, lastApplied));
  const byVmid = new Map(world.placements.map((p) => [p.vmid, p]));
  const knownNodes = new Set(Object.keys(world.config.nodes));
  const reports: SwitchReport[] = [];
  const arrivals: Array<{ report: SwitchReport; ip?: string; ip6?: string }> = [];
  const departures: Departure[] = [];
  for (const vmid of vmids) {
    const report: SwitchReport = { vmid, to: rt.self, pending: [] };
    reports.push(report);
    const placement = byVmid.get(vmid);
    if (!world.config.vms[String(vmid)]) report.skipped = `VM ${vmid} is not in the config`;
    else if (!placement || placement.node !== rt.self || placement.status !== "running") {
      const where = placement ? `${placement.status} on ${placement.node}` : "not in the cluster";
      report.skipped = `VM ${vmid} is ${where}, not running on ${rt.self}`;
    } else if (!due.has(vmid)) report.skipped = `VM ${vmid} was switched here meanwhile`;
    if (report.skipped || !placement) continue;
    const origin = switchOrigin({
      self: rt.self,
      last: lastByVmid.get(vmid),
      knownNodes,
      ip: placement.ip,
      ip6: placement.ip6,
      vmid,
      now: rt.now(),
    });
    if (origin.from) report.from = origin.from;
    if (origin.departure) departures.push(origin.departure);
    arrivals.push({
      report,
      ...(placement.ip ? { ip: placement.ip } : {}),
      ...(placement.ip6 ? { ip6: placement.ip6 } : {}),
    });
  }
  if (arrivals.length === 0) return { switched: reports };
  // 1. Best effort, as in switch.ts: without quorum the old node records them itself.
  await rt.departures
    .addAll(departures)
    .catch((err: unknown) =>
      rt.log(`departures of ${departures.length} VMs not recorded: ${messageOf(err)}`),
    );

  // 2. This node's forwards and routes, for all of them at once.
  const local = await journaledStep(rt, nodeWork, { node: rt.self }, () =>
    convergeNode(rt, rt.self, { snapshot }),
  );
  const node = world.config.nodes[rt.self]!;
  for (const a of arrivals) {
    a.report.local = local;
    if (!local.ok) continue;
    await rt.state.lastApplied.set({
      vmid: a.report.vmid,
      node: rt.self,
      privateIPs: a.ip ? [a.ip] : [],
      ...(a.ip6 ? { privateIPv6: a.ip6 } : {}),
      publicIPs: [node.publicIPv4, ...(node.publicIPv6 ? [node.publicIPv6] : [])],
      names: world.config.vms[String(a.report.vmid)]!.dns,
    });
  }

  // 3. Each old node once.
  for (const from of new Set(arrivals.flatMap((a) => a.report.from ?? []))) {
    const old = await journaledStep(rt, nodeWork, { node: from }, () => applyOnNode(world.config, from));
    for (const a of arrivals.filter((x) => x.report.from === from)) a.report.old = old;
  }

  // 4. DNS: one plan for all their names, one journal item per guest.
  const ids = arrivals.map((a) => a.report.vmid);
  const names = new Map(ids.map((vmid) => [vmid, world.config.vms[String(vmid)]!.dns]));
  const dnsOutcomes = local.ok
    ? await moveNames(rt, ids, names, snapshot)
    : await holdNames(
        rt,
        ids,
        `names not moved: ${rt.self}'s forwards are not in place (${local.error}); waiting for node:${rt.self}`,
      );
  for (const a of arrivals) {
    const r = a.report;
    r.dns = dnsOutcomes.perVm.get(r.vmid) ?? { ok: false, error: "not planned" };
    if (!local.ok) r.pending.push(`node:${rt.self}`);
    if (r.old && !r.old.ok) r.pending.push(`node:${r.from}`);
    if (!r.dns.ok) r.pending.push(`dns:vm:${r.vmid}`);
  }
  return { switched: reports, ...(dnsOutcomes.result ? { dns: dnsOutcomes.result } : {}) };
}

interface NamesMoved {
  perVm: Map<number, StepOutcome<DnsSyncResult>>;
  result?: DnsSyncResult;
}

/** Journals a DNS item per guest, syncs all their names in one plan, clears the items of guests fully done. */
async function moveNames(
  rt: Runtime,
  vmids: number[],
  names: Map<number, readonly string[]>,
  snapshot: RunSnapshot,
): Promise<NamesMoved> {
  const { items, journal } = await rt.state.recordPendingAll(
    dnsWork,
    vmids.map((vmid) => ({ vmid })),
  );
  const perVm = new Map<number, StepOutcome<DnsSyncResult>>();
  let result: DnsSyncResult;
  try {
    result = await syncDns(rt, vmids, { snapshot });
  } catch (err) {
    for (const item of items) await journal.markFailed(item, err).catch(() => {});
    rt.log(`dns of ${vmids.length} arrived VMs: ${messageOf(err)} (kept in the journal)`, "warning");
    for (const vmid of vmids) perVm.set(vmid, { ok: false, error: messageOf(err) });
    return { perVm };
  }
  const failures = staleByVm(result);
  const done = items.filter((i) => !failures.has(i.payload.vmid));
  await journal.markAllDone(done);
  for (const item of items) {
    const vmid = item.payload.vmid;
    const error = failures.get(vmid);
    if (error === undefined) {
      perVm.set(vmid, { ok: true, value: ofVm(result, names.get(vmid) ?? []) });
      continue;
    }
    await journal.markFailed(item, new Error(error)).catch(() => {});
    rt.log(`${item.id}: ${error} (kept in the journal)`, "warning");
    perVm.set(vmid, { ok: false, error });
  }
  return { perVm, result };
}

/** A local convergence failed: every guest's names wait for this node (switch.ts heldStep). */
async function holdNames(rt: Runtime, vmids: number[], reason: string): Promise<NamesMoved> {
  const { items, journal } = await rt.state.recordPendingAll(
    dnsWork,
    vmids.map((vmid) => ({ vmid, after: rt.self })),
  );
  for (const item of items) await journal.markFailed(item, new Error(reason)).catch(() => {});
  rt.log(`dns of ${vmids.length} arrived VMs: ${reason} (kept in the journal)`, "warning");
  return { perVm: new Map(vmids.map((vmid) => [vmid, { ok: false, error: reason }])) };
}

/** Per guest, why its names are not done: a name of its changed meanwhile (its compare-and-swap failed). */
export function staleByVm(r: DnsSyncResult): Map<number, string> {
  const vmidOf = new Map(
    (r.plan ?? []).flatMap((c) => (c.backend === "dns" && c.vmid ? [[c.key, c.vmid]] : [])),
  );
  const out = new Map<number, string[]>();
  for (const o of r.outcomes) {
    const vmid = vmidOf.get(o.name);
    if (o.status !== "stale" || vmid === undefined) continue;
    out.set(vmid, [...(out.get(vmid) ?? []), o.name]);
  }
  return new Map([...out].map(([vmid, names]) => [vmid, `names changed meanwhile: ${names.join(", ")}`]));
}

/** One guest's share of a batch's DNS result (its names' outcomes and lines). */
function ofVm(r: DnsSyncResult, names: readonly string[]): DnsSyncResult {
  const mine = new Set(names);
  const about = (line: string) => mine.has(line.slice(0, line.indexOf(":")));
  return {
    outcomes: r.outcomes.filter((o) => mine.has(o.name)),
    deleted: r.deleted.filter((n) => mine.has(n)),
    withdrawn: [],
    lines: r.lines.filter(about),
    problems: r.problems.filter(about),
    withdrawFailed: [],
  };
}
