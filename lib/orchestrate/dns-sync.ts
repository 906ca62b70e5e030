import type { TakenLock } from "../cluster/run-snapshot.ts";
import type { NameOutcome, PropagationReport } from "../dns/client.ts";
import { DnsAllMastersFailed } from "../dns/errors.ts";
import { describePropagation } from "../dns/propagation.ts";
import { messageOf } from "../errors.ts";
import { type Change, renderChange } from "../plan/types.ts";
import { DNS_LOCK, recordHeld } from "../state/index.ts";
import { type DnsPlanned, type DnsPlanOptions, planDnsSync } from "./dns-plan.ts";
import { withdrawNames } from "./dns-withdraw.ts";
import { runStage } from "./pipeline.ts";
import { takenLock } from "./run-view.ts";
import type { Runtime } from "./runtime.ts";

// Points the names of some VMs at the nodes that host them now, and withdraws
// names nobody claims any more. One writer at a time across the cluster (the
// "dns" cluster lock), and the cluster is observed INSIDE the lock: a writer
// that waited behind another sees the newer placement, so a late, stale
// writer cannot undo a newer move. The DNS client adds compare-and-swap
// against what the plan read (dns-plan.ts: the plan is made once, and its
// writes are sent as they are), which also stops writers outside the lock (a
// manual `dns set`), and the ownership rules of lib/dns/claims.ts: each name is
// written for its VM (TXT vm=<vmid>), and a Notes block never takes a name
// another VM (or an older version, or the file before) holds. Every name
// written or confirmed goes into the registry of claimed names, which is how
// a name whose claim went away is found again and withdrawn.

export interface DnsSyncResult {
  /** The plan, as data (lib/plan/types.ts): what a dry run would do, what a real run did. */
  plan?: Change[];
  /** A dry run's plan over the safety threshold: why (a real run throws UnsafePlan instead). */
  unsafe?: string;
  outcomes: NameOutcome[];
  deleted: string[];
  /** Names withdrawn because their VM no longer claims them. */
  withdrawn: string[];
  /** Lines for humans: "mail.example.org: 203.0.113.10 -> 198.51.100.20 (at 127.0.0.1:5300)". */
  lines: string[];
  /** Names we may not touch (not ours, another VM's) or that moved under us; failed withdrawals. */
  problems: string[];
  /** Withdrawals that failed (kept in the registry, journaled unless replaying the journal). */
  withdrawFailed: string[];
  /** After a switch: did every master and name server follow, and how long it took (syncDnsStrict). */
  propagation?: PropagationReport & { elapsedMs: number };
}

export interface DnsSyncOptions extends DnsPlanOptions {
  dryRun?: boolean;
  /** A real run failed (masters down): journal what is left (pipeline.ts `failed`). */
  failed?: (err: unknown) => Promise<void>;
}

/** Names of `vmids` (all configured VMs when undefined) to their desired addresses. */
export async function syncDns(
  rt: Runtime,
  vmids: number[] | undefined,
  opts: DnsSyncOptions = {},
): Promise<DnsSyncResult> {
  const { dryRun = false, failed, ...planOpts } = opts;
  // The run's snapshot serves only if nobody held the lock since it was read (run-snapshot.ts).
  let lock: TakenLock | undefined;
  const run = await runStage(
    {
      locked: (fn) =>
        rt.state.withClusterLock(DNS_LOCK, (lease) => {
          lock = takenLock("cluster", DNS_LOCK, rt.now(), lease);
          return fn();
        }),
      // Reuse of the last reads (reconcile's steady step asks for it): a real run only; a dry run reads.
      plan: () =>
        planDnsSync(rt, vmids, {
          ...planOpts,
          ...(lock ? { lock } : {}),
          reuseReads: planOpts.reuseReads === true && !dryRun,
        }),
      apply: (p) => applyDnsPlan(rt, p, opts),
      ...(failed ? { failed } : {}),
    },
    { dryRun },
  );
  if (run.applied) return run.result;
  const { changes, writes, refused, unsafe } = run.plan;
  return {
    ...emptyResult(changes),
    lines: changes.map(renderChange),
    problems: [...refused, ...writes.warnings],
    ...(unsafe === undefined ? {} : { unsafe }),
  };
}

function emptyResult(plan: Change[]): DnsSyncResult {
  return { plan, outcomes: [], deleted: [], withdrawn: [], lines: [], problems: [], withdrawFailed: [] };
}

/** Writes the planned names as planned, withdraws what is due, records the registry, logs. */
async function applyDnsPlan(rt: Runtime, p: DnsPlanned, opts: DnsSyncOptions): Promise<DnsSyncResult> {
  const { registry } = p;
  const result = emptyResult(p.changes);
  result.problems.push(...p.refused);
  let dirty = false;
  let writeError: unknown;
  try {
    dirty = await writeClaimed(rt, p, result);
    for (const w of p.stopped) {
      // dns.deleteOnStop: the VM still claims the name (it stays registered), it just is not running.
      const r = await rt.dns.applyWithdrawal(w);
      if (r.status === "withdrawn") {
        result.deleted.push(w.name);
        result.lines.push(`${w.name}: deleted (VM ${w.vmid} stopped)`);
      } else if (r.status === "kept") result.problems.push(`${w.name}: left alone: ${r.reason}`);
    }
  } catch (err) {
    // Withdrawals still get their journal items (without waiting out the masters again).
    writeError = err;
  }
  if (opts.withdraw) {
    const w = await withdrawNames(rt, p.unclaimed, registry, {
      journal: opts.withdraw === "unclaimed",
      ...(writeError instanceof DnsAllMastersFailed ? { mastersDown: writeError } : {}),
    });
    result.withdrawn = w.withdrawn;
    result.withdrawFailed = w.failed;
    result.lines.push(...w.lines);
    result.problems.push(...w.problems);
    dirty ||= p.unclaimed.length > 0;
  }
  if (dirty) await rt.state.claimedNames.write(registry);
  for (const line of result.lines) rt.log(`dns ${line}`);
  for (const problem of result.problems) rt.log(`dns ${problem}`, "warning");
  if (writeError !== undefined) throw writeError;
  return result;
}

/** Sends the planned writes as they are; records the names their VMs hold now. True when the registry changed. */
async function writeClaimed(rt: Runtime, p: DnsPlanned, result: DnsSyncResult): Promise<boolean> {
  const { writes, registry, wants } = p;
  const sent = writes.writes.length > 0 ? (await rt.dns.applyWrites(writes.writes)).outcomes : [];
  const byName = new Map([...writes.settled, ...sent].map((o) => [o.name, o]));
  const want = new Map(wants.map((w, i) => [w.name, { ...w, i }]));
  // In the order the desired state lists the names.
  result.outcomes = [...byName.values()].sort(
    (x, y) => (want.get(x.name)?.i ?? 0) - (want.get(y.name)?.i ?? 0),
  );
  let dirty = false;
  for (const o of result.outcomes) {
    const w = want.get(o.name);
    if (w?.claim && (o.status === "updated" || o.status === "unchanged"))
      dirty = recordHeld(registry, o.name, w.claim) || dirty;
    if (o.status === "updated")
      result.lines.push(
        // An answer lost after the update landed: say how we know it did (the read-back).
        `${o.name}: -> ${[...o.a, ...o.aaaa].join(",")} TTL ${w?.ttl} (at ${o.master}${o.readBack ? `; ${o.readBack}` : ""})`,
      );
    if (o.status === "not-owned")
      result.problems.push(`${o.name}: exists without our ownership TXT; left alone`);
    if (o.status === "refused")
      result.problems.push(`${o.name}: not written for VM ${w?.claim?.vmid}: it ${o.reason}`);
    if (o.status === "stale")
      result.problems.push(`${o.name}: changed by someone else meanwhile; retried next run`);
  }
  return dirty;
}

/** Like syncDns, but a name that moved under us is a failure, so a journal item stays for the next run. */
export async function syncDnsStrict(rt: Runtime, vmids: number[]): Promise<DnsSyncResult> {
  // A few named VMs (a switch, a journaled retry): their status live, not the lagging RRD one.
  const r = await syncDns(rt, vmids, { live: vmids });
  const stale = r.outcomes.filter((o) => o.status === "stale");
  if (stale.length) throw new Error(`names changed meanwhile: ${stale.map((o) => o.name).join(", ")}`);
  return r;
}

/**
 * After a switch wrote names: reads them back from every master and name
 * server until they agree (bounded by dns.propagation.waitSeconds), and adds
 * to `r` how long that took since `start` (the switch's), or who still
 * answers what. Runs outside the VM's lock: another switch need not wait.
 */
export async function followPropagation(rt: Runtime, r: DnsSyncResult, start: number): Promise<void> {
  const written = r.outcomes.flatMap((o) =>
    o.status === "updated" ? [{ name: o.name, expected: { a: o.a, aaaa: o.aaaa } }] : [],
  );
  if (written.length === 0) return;
  try {
    const p = await rt.dns.awaitPropagation(written);
    r.propagation = { ...p, elapsedMs: Date.now() - start };
    for (const line of describePropagation(p, r.propagation.elapsedMs)) {
      r.lines.push(`propagation: ${line.trim()}`);
      rt.log(`dns propagation: ${line.trim()}`);
    }
  } catch (err) {
    // The names are written; not knowing yet who follows is no reason to journal anything.
    r.lines.push(`propagation: not checked: ${messageOf(err).split("\n")[0]}`);
  }
}

/** The journal replay of a withdrawal: fails (the item stays) unless it is done or no longer due. */
export async function withdrawStrict(rt: Runtime, name: string): Promise<DnsSyncResult> {
  const r = await syncDns(rt, [], { withdraw: [name] });
  if (r.withdrawFailed.length)
    throw new Error(`withdrawal of ${name} failed again: ${r.problems.join("; ")}`);
  return r;
}
