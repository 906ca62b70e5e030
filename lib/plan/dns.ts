import type { DnsDesired } from "../desired/types.ts";
import {
  type Claim,
  type NameState,
  type NameWrite,
  normalizeAddresses,
  normalizeName,
  planFromState,
  ttlDiffers,
} from "../dns/changes.ts";
import { type ClaimPlan, planClaim } from "../dns/claims.ts";
import type { NameOutcome } from "../dns/types.ts";
import type { Change } from "./types.ts";

// PURE: the DNS plan, made once from the names as they were read, and the
// very writes that carry it out (external-dns' `Changes` handed to
// `ApplyChanges`). Each write is a compare-and-swap against the values read
// here: the write path sends them as they are and never plans again, so a
// name changed since the read fails its prerequisites (NXRRSET) and is
// reported stale, journaled, and planned afresh by the next run.

/** A desired name, with the guest it is written for (the ownership rules of lib/dns/claims.ts). */
export interface DnsWant extends DnsDesired {
  claim?: Claim;
}

/** A name as it was read, and where (the master label). */
export type NameRead = NameState & { master?: string };

export interface DnsPlanSettings {
  /** dns.ownerId: whose ownership TXT counts as ours. */
  ownerId: string;
  /** dns.zone: names and addresses are written in their canonical form. */
  zone: string;
}

export interface DnsPlan {
  changes: Change[];
  /** Names left alone (not ours, another VM's); not changes. */
  warnings: string[];
  /** The writes that make `changes`, in the same order; applied as they are. */
  writes: NameWrite[];
  /** Names that need no write (unchanged, refused, not ours), as the outcomes the write path reports. */
  settled: NameOutcome[];
}

const EMPTY: NameState = { exists: false, a: [], aaaa: [], txt: [], owned: false };

/**
 * The writes that bring `desired` names to their addresses and TTL, from what
 * was read. With `settings`, each name is canonical and a claimed one follows
 * the ownership rules (relabelled, refused); without, any name of ours is
 * swapped as it is.
 */
export function planDns(
  desired: readonly DnsWant[],
  read: ReadonlyMap<string, NameRead>,
  settings?: DnsPlanSettings,
): DnsPlan {
  const plan: DnsPlan = { changes: [], warnings: [], writes: [], settled: [] };
  for (const d of [...desired].sort((a, b) => a.name.localeCompare(b.name))) {
    const state: NameRead = read.get(d.name) ?? EMPTY;
    const master = state.master ?? "";
    const name = settings ? normalizeName(d.name, settings.zone, "dns name") : d.name;
    const want = settings
      ? normalizeAddresses([...d.a, ...d.aaaa], `${d.name} addresses`)
      : { a: d.a, aaaa: d.aaaa };
    const p: ClaimPlan =
      settings && d.claim
        ? planClaim(name, want, state, d.claim, settings.ownerId, d.ttl)
        : planFromState(name, want, state, d.ttl);
    const actual = { a: state.a, aaaa: state.aaaa, txt: state.txt };
    if (p.kind === "unchanged") {
      plan.settled.push({ name, status: "unchanged", master, ...want });
      continue;
    }
    if (p.kind === "not-owned") {
      plan.warnings.push(`${d.name}: exists without our ownership TXT; left alone`);
      plan.settled.push({ name, status: "not-owned", master, actual });
      continue;
    }
    if (p.kind === "refused") {
      plan.warnings.push(`${d.name}: not written for VM ${d.vmid}: it ${p.reason}`);
      plan.settled.push({ name, status: "refused", master, reason: p.reason, actual });
      continue;
    }
    plan.writes.push(p.write);
    plan.changes.push(changeOf(d, p.write, state));
  }
  return plan;
}

function changeOf(d: DnsWant, write: NameWrite, state: NameState): Change {
  const after = [...write.desired.a, ...write.desired.aaaa].join(",");
  if (write.form.kind === "create") return { op: "add", backend: "dns", vmid: d.vmid, key: d.name, after };
  // A planned move lowers the TTL, the end of its grace restores it: same addresses.
  const ttl =
    state.ttl !== undefined && ttlDiffers(state, d.ttl) ? `TTL ${state.ttl} -> ${d.ttl}` : undefined;
  const relabel = write.form.relabel?.add === undefined ? undefined : `ownership -> vm=${d.vmid}`;
  const note = [ttl, relabel].filter((n) => n !== undefined).join(", ");
  return {
    op: "update",
    backend: "dns",
    vmid: d.vmid,
    key: d.name,
    before: [...state.a, ...state.aaaa].join(","),
    after,
    ...(note === "" ? {} : { note }),
  };
}
