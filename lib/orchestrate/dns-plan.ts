import type { RunSnapshot, TakenLock } from "../cluster/run-snapshot.ts";
import { computeDesired } from "../desired/compute.ts";
import { registryRefusal } from "../dns/claims.ts";
import { type PlannedWithdrawal, planWithdrawal } from "../dns/withdraw.ts";
import { messageOf } from "../errors.ts";
import { type DnsPlan, type DnsWant, planDns } from "../plan/dns.ts";
import { type SafetyLimit, safetyVerdict } from "../plan/safety.ts";
import type { Change } from "../plan/types.ts";
import type { ClaimRegistry } from "../state/index.ts";
import { readPlannedNames } from "./dns-read-names.ts";
import { dueNow } from "./dns-withdraw.ts";
import type { Withdrawal } from "./name-claims.ts";
import { claimOf } from "./name-claims.ts";
import { observe, type World } from "./observe.ts";
import type { Planned } from "./pipeline.ts";
import type { Runtime } from "./runtime.ts";

// The DNS plan of some VMs, made once: observe -> desired -> the names the
// registry lets each VM write -> read them at the masters -> planDns (pure:
// Change objects and the compare-and-swap writes that make them) -> the
// withdrawals due -> the safety verdict. dns-sync.ts applies exactly this;
// `plan` and `reconcile --dry-run` print it. Nothing here writes anything.

export interface DnsPlanned extends Planned {
  changes: Change[];
  world: World;
  registry: ClaimRegistry;
  /** The names the VMs may write (the registry allowing), with their claims. */
  wants: DnsWant[];
  /** The names' Change objects and the compare-and-swap writes that make them. */
  writes: DnsPlan;
  /** Names the registry keeps from a Notes claim (checked before DNS is read). */
  refused: string[];
  /** dns.deleteOnStop: names of stopped VMs, still claimed; each planned from its read, sent as planned. */
  stopped: PlannedWithdrawal[];
  /** Registered names nobody claims any more; each planned from its read, sent as planned. */
  unclaimed: PlannedWithdrawal[];
}

export interface DnsPlanOptions {
  /** "unclaimed": every registered name nobody claims; a list: only these (a journal replay). */
  withdraw?: "unclaimed" | readonly string[];
  /** Guests whose status comes from their node live, not from the lagging /cluster/resources. */
  live?: readonly number[];
  /** Refuse removing more than this share of the registered names. */
  safety?: SafetyLimit;
  /** The run's one look at the cluster (reconcile). */
  snapshot?: RunSnapshot;
  /** The "dns" lock as syncDns took it. */
  lock?: TakenLock;
  /** Reuse the last run's reads while the zone's serial is unchanged (dns-read-names.ts); records this run's. */
  reuseReads?: boolean;
}

/** Plans the names of `vmids` (all configured VMs when undefined); call inside the "dns" cluster lock. */
export async function planDnsSync(
  rt: Runtime,
  vmids: readonly number[] | undefined,
  opts: DnsPlanOptions,
): Promise<DnsPlanned> {
  const world = await observe(rt, {
    ...(opts.live ? { live: opts.live } : {}),
    ...(opts.snapshot ? { snapshot: opts.snapshot } : {}),
    ...(opts.lock === undefined ? {} : { lock: opts.lock }),
  });
  // Departures and planned moves decide the TTL (lowered during a planned move and its grace).
  const desired = computeDesired(world.config, world.placements, world.departures, rt.now(), world.moves);
  const wanted = (vmid: number) => vmids === undefined || vmids.includes(vmid);
  const registry: ClaimRegistry = (await rt.state.claimedNames.read()) ?? new Map();
  const refused: string[] = [];
  const allowed: DnsWant[] = desired.dns
    .filter((d) => wanted(d.vmid))
    .flatMap((d) => {
      const claim = claimOf(world.config, d.vmid, d.name);
      const refusal = registryRefusal(claim, registry.get(d.name));
      if (refusal === undefined) return [{ ...d, claim }];
      refused.push(`${d.name}: not written for VM ${d.vmid} (Notes): it ${refusal}`);
      return [];
    });
  const read = await readPlannedNames(
    rt,
    allowed.map((d) => d.name),
    opts.reuseReads === true,
  );
  const writes = planDns(allowed, read, { ownerId: world.config.dns.ownerId, zone: world.config.dns.zone });
  const only = opts.withdraw === "unclaimed" ? undefined : opts.withdraw;
  // Read once here: the withdrawal is sent against exactly this read (withdraw.ts applyWithdrawal).
  const planned = async (due: readonly Withdrawal[]) => {
    const out: PlannedWithdrawal[] = [];
    for (const w of due) {
      try {
        out.push(planWithdrawal(w.name, w.vmid, await rt.dns.query(w.name), world.config.dns.ownerId));
      } catch (err) {
        // Unreadable (the masters down): planned as such, so the apply journals it for the next run.
        out.push({
          name: w.name,
          vmid: w.vmid,
          status: "unread",
          reason: messageOf(err).split("\n")[0] ?? "",
        });
      }
    }
    return out;
  };
  const stopped = await planned(desired.dnsWithdraw.filter((d) => wanted(d.vmid)));
  const unclaimed = opts.withdraw ? await planned(dueNow(world, registry, only)) : [];
  const removals: Change[] = [
    ...stopped.map((w) => removal(w, `VM ${w.vmid} stopped (dns.deleteOnStop)`)),
    ...unclaimed.map((w) => removal(w, `VM ${w.vmid} no longer claims it`)),
  ];
  // Only removals count here: moving names is what this tool is for.
  const unsafe = opts.safety ? safetyVerdict(removals, registry.size, opts.safety) : undefined;
  return {
    changes: [...writes.changes, ...removals],
    world,
    registry,
    wants: allowed,
    writes,
    refused,
    stopped,
    unclaimed,
    ...(unsafe === undefined ? {} : { unsafe }),
  };
}

function removal(w: PlannedWithdrawal, note: string): Change {
  const before = w.status === "send" ? [...w.seen.a, ...w.seen.aaaa].join(",") : "";
  return { op: "remove", backend: "dns", vmid: w.vmid, key: w.name, ...(before ? { before } : {}), note };
}
