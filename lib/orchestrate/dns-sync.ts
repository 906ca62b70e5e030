import { computeDesired } from "../desired/compute.ts";
import type { DnsDesired } from "../desired/types.ts";
import type { NameState } from "../dns/changes.ts";
import { registryRefusal } from "../dns/claims.ts";
import type { NameOutcome, PropagationReport } from "../dns/client.ts";
import { DnsAllMastersFailed } from "../dns/errors.ts";
import { describePropagation } from "../dns/propagation.ts";
import { messageOf } from "../errors.ts";
import { planDns } from "../plan/index.ts";
import { assertSafe, type SafetyLimit } from "../plan/safety.ts";
import { type Change, renderChange } from "../plan/types.ts";
import { type ClaimRegistry, recordHeld } from "../state/index.ts";
import { dueNow, withdrawNames } from "./dns-withdraw.ts";
import { claimOf } from "./name-claims.ts";
import { observe, type World } from "./observe.ts";
import type { Runtime } from "./runtime.ts";

// Points the names of some VMs at the nodes that host them now, and withdraws
// names nobody claims any more. One writer at a time across the cluster (the
// "dns" cluster lock), and the cluster is observed INSIDE the lock: a writer
// that waited behind another sees the newer placement, so a late, stale
// writer cannot undo a newer move. The DNS client adds compare-and-swap
// against what it read, which also stops writers outside the lock (a manual
// `dns set`), and the ownership rules of lib/dns/claims.ts: each name is
// written for its VM (TXT vm=<vmid>), and a Notes block never takes a name
// another VM (or an older version, or the file before) holds. Every name
// written or confirmed goes into the registry of claimed names, which is how
// a name whose claim went away is found again and withdrawn.

export interface DnsSyncResult {
  /** A dry run's plan, as data (lib/plan/types.ts). */
  plan?: Change[];
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

export interface DnsSyncOptions {
  dryRun?: boolean;
  /**
   * Withdraw registered names their VM no longer claims: "unclaimed" every
   * one that is due (reconcile), or only these names (a journal replay).
   */
  withdraw?: "unclaimed" | readonly string[];
  /** Guests whose status comes from their node live, not from the lagging /cluster/resources. */
  live?: readonly number[];
  /** Refuse (UnsafePlan, nothing written) removing more than this share of the registered names. */
  safety?: SafetyLimit;
}

/** Names of `vmids` (all configured VMs when undefined) to their desired addresses. */
export async function syncDns(
  rt: Runtime,
  vmids: number[] | undefined,
  opts: DnsSyncOptions = {},
): Promise<DnsSyncResult> {
  return rt.state.withClusterLock("dns", async () => {
    const world = await observe(rt, opts.live ? { live: opts.live } : {});
    // Departures and planned moves decide the TTL (lowered during a planned move and its grace).
    const desired = computeDesired(world.config, world.placements, world.departures, rt.now(), world.moves);
    const wanted = (vmid: number) => vmids === undefined || vmids.includes(vmid);
    const changes = desired.dns.filter((d) => wanted(d.vmid));
    const result: DnsSyncResult = {
      outcomes: [],
      deleted: [],
      withdrawn: [],
      lines: [],
      problems: [],
      withdrawFailed: [],
    };
    const found = await rt.state.claimedNames.read();
    const registry: ClaimRegistry = found ?? new Map();
    const only = opts.withdraw === "unclaimed" ? undefined : opts.withdraw;
    if (opts.dryRun) {
      const current = new Map<string, NameState>();
      for (const c of changes) current.set(c.name, await rt.dns.query(c.name));
      const plan = planDns(changes, current);
      if (opts.withdraw) {
        for (const w of dueNow(world, registry, only))
          plan.changes.push({
            op: "remove",
            backend: "dns",
            vmid: w.vmid,
            key: w.name,
            note: `VM ${w.vmid} no longer claims it`,
          });
      }
      result.plan = plan.changes;
      result.lines.push(...plan.changes.map(renderChange));
      result.problems.push(...plan.warnings);
      return result;
    }
    if (opts.safety) {
      const removals: Change[] = [
        ...(opts.withdraw ? dueNow(world, registry, only) : []),
        ...desired.dnsWithdraw.filter((d) => wanted(d.vmid)),
      ].map((w) => ({ op: "remove", backend: "dns", vmid: w.vmid, key: w.name }));
      assertSafe(removals, registry.size, opts.safety);
    }
    let dirty = false;
    let writeError: unknown;
    try {
      dirty = await writeClaimed(rt, world, changes, registry, result);
      for (const w of desired.dnsWithdraw.filter((d) => wanted(d.vmid))) {
        // dns.deleteOnStop: the VM still claims the name (it stays registered), it just is not running.
        const r = await rt.dns.withdrawName(w.name, w.vmid);
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
      const due = dueNow(world, registry, only);
      const w = await withdrawNames(rt, due, registry, {
        journal: only === undefined,
        ...(writeError instanceof DnsAllMastersFailed ? { mastersDown: writeError } : {}),
      });
      result.withdrawn = w.withdrawn;
      result.withdrawFailed = w.failed;
      result.lines.push(...w.lines);
      result.problems.push(...w.problems);
      dirty ||= due.length > 0;
    }
    if (dirty) await rt.state.claimedNames.write(registry);
    for (const line of result.lines) rt.log(`dns ${line}`);
    for (const p of result.problems) rt.log(`dns ${p}`, "warning");
    if (writeError !== undefined) throw writeError;
    return result;
  });
}

/** Writes the names in `changes` for their VMs; records the ones they hold now. True when the registry changed. */
async function writeClaimed(
  rt: Runtime,
  world: World,
  changes: readonly DnsDesired[],
  registry: ClaimRegistry,
  result: DnsSyncResult,
): Promise<boolean> {
  const allowed = changes.flatMap((c) => {
    const claim = claimOf(world.config, c.vmid, c.name);
    const refusal = registryRefusal(claim, registry.get(c.name));
    if (refusal === undefined) return [{ name: c.name, a: c.a, aaaa: c.aaaa, ttl: c.ttl, claim }];
    result.problems.push(`${c.name}: not written for VM ${c.vmid} (Notes): it ${refusal}`);
    return [];
  });
  if (allowed.length === 0) return false;
  const set = await rt.dns.setAddresses(allowed);
  result.outcomes = set.outcomes;
  let dirty = false;
  const claimByName = new Map(allowed.map((c) => [c.name, c.claim]));
  const ttlByName = new Map(allowed.map((c) => [c.name, c.ttl]));
  for (const o of set.outcomes) {
    const claim = claimByName.get(o.name);
    if (claim && (o.status === "updated" || o.status === "unchanged"))
      dirty = recordHeld(registry, o.name, claim) || dirty;
    if (o.status === "updated")
      result.lines.push(
        // An answer lost after the update landed: say how we know it did (the read-back).
        `${o.name}: -> ${[...o.a, ...o.aaaa].join(",")} TTL ${ttlByName.get(o.name)} (at ${o.master}${o.readBack ? `; ${o.readBack}` : ""})`,
      );
    if (o.status === "not-owned")
      result.problems.push(`${o.name}: exists without our ownership TXT; left alone`);
    if (o.status === "refused")
      result.problems.push(`${o.name}: not written for VM ${claim?.vmid}: it ${o.reason}`);
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
