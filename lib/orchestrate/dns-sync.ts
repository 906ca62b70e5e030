import { computeDesired } from "../desired/compute.ts";
import type { NameState } from "../dns/changes.ts";
import type { NameOutcome } from "../dns/client.ts";
import { describeDnsPlan, planDns } from "../plan/index.ts";
import { observe } from "./observe.ts";
import type { Runtime } from "./runtime.ts";

// Points the names of some VMs at the nodes that host them now. One writer
// at a time across the cluster (the "dns" cluster lock), and the cluster is
// observed INSIDE the lock: a writer that waited behind another sees the
// newer placement, so a late, stale writer cannot undo a newer move. The DNS
// client adds compare-and-swap against what it read, which also stops writers
// outside the lock (a manual `dns set`).

export interface DnsSyncResult {
  outcomes: NameOutcome[];
  deleted: string[];
  /** Lines for humans: "mail.example.org: 203.0.113.10 -> 198.51.100.20 (at 127.0.0.1:5300)". */
  lines: string[];
  /** Names we may not touch (exist without our ownership TXT) or that moved under us. */
  problems: string[];
}

/** Names of `vmids` (all configured VMs when undefined) to their desired addresses. */
export async function syncDns(
  rt: Runtime,
  vmids: number[] | undefined,
  opts: { dryRun?: boolean } = {},
): Promise<DnsSyncResult> {
  return rt.state.withClusterLock("dns", async () => {
    const world = await observe(rt);
    const desired = computeDesired(world.config, world.placements, [], rt.now());
    const wanted = (vmid: number) => vmids === undefined || vmids.includes(vmid);
    const changes = desired.dns.filter((d) => wanted(d.vmid));
    const result: DnsSyncResult = { outcomes: [], deleted: [], lines: [], problems: [] };
    if (opts.dryRun) {
      const current = new Map<string, NameState>();
      for (const c of changes) current.set(c.name, await rt.dns.query(c.name));
      result.lines.push(...describeDnsPlan(planDns(changes, current)));
      return result;
    }
    if (changes.length) {
      const set = await rt.dns.setAddresses(changes.map(({ name, a, aaaa }) => ({ name, a, aaaa })));
      result.outcomes = set.outcomes;
      for (const o of set.outcomes) {
        if (o.status === "updated")
          result.lines.push(`${o.name}: -> ${[...o.a, ...o.aaaa].join(",")} (at ${o.master})`);
        if (o.status === "not-owned")
          result.problems.push(`${o.name}: exists without our ownership TXT; left alone`);
        if (o.status === "stale")
          result.problems.push(`${o.name}: changed by someone else meanwhile; retried next run`);
      }
    }
    for (const w of desired.dnsWithdraw.filter((d) => wanted(d.vmid))) {
      const r = await rt.dns.deleteName(w.name);
      if (r.status === "deleted") {
        result.deleted.push(w.name);
        result.lines.push(`${w.name}: deleted (VM ${w.vmid} stopped)`);
      } else if (r.status === "not-owned")
        result.problems.push(`${w.name}: exists without our ownership TXT; left alone`);
    }
    for (const line of result.lines) rt.log(`dns ${line}`);
    for (const p of result.problems) rt.log(`dns ${p}`);
    return result;
  });
}

/** Like syncDns, but a name that moved under us is a failure, so a journal item stays for the next run. */
export async function syncDnsStrict(rt: Runtime, vmids: number[]): Promise<DnsSyncResult> {
  const r = await syncDns(rt, vmids);
  const stale = r.outcomes.filter((o) => o.status === "stale");
  if (stale.length) throw new Error(`names changed meanwhile: ${stale.map((o) => o.name).join(", ")}`);
  return r;
}
