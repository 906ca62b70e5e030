import {
  type Addresses,
  alreadyServed,
  type Claim,
  type FailurePlan,
  type NameState,
  type NameWrite,
  type Relabel,
  type StatePlan,
} from "./changes.ts";
import { type NameOwner, nameOwner, ownershipTxt } from "./ownership.ts";

// PURE: who may write a guest's name. A claim is a VM wanting a name, from
// the central file (root's) or from its Notes (its tenant's, untrusted); the
// name's ownership TXT says which guest holds it now. The rules:
//
//   TXT at the name            file claim of VM Y        Notes claim of VM Y
//   nothing (free)             create, label vm=Y        create, label vm=Y
//   records, none of ours      never touched             never touched
//   ours, no label (old/`dns set`) adopt: relabel vm=Y   refused
//   ours, vm=Y                 write                     write
//   ours, vm=X (X != Y)        take over: relabel vm=Y   refused
//   ours, several vm labels    take over                 refused
//
// A file claim takes a name over from VM X only because the caller hands in
// the merged config's one claimant of each name (the config check refuses two
// VMs claiming one name, and drops a Notes block that would): so X no longer
// claims it, and moving a name between VMs in the file is the admin's call.
// A Notes block can only ever create a free name or keep its own.
//
// The registry of names we wrote (lib/state/claimed-names.ts) adds one rule
// on top, checked before DNS is read: a Notes claim may not take a name the
// registry gives to another VM, nor one the file gave to a VM before and that
// was withdrawn since (the tombstone): a tenant cannot pick up an admin's
// name the moment the file drops it.

export type ClaimDecision =
  | { kind: "take"; how: "create" | "keep" | "adopt" | "take-over" }
  | { kind: "refuse"; reason: string }
  | { kind: "not-owned" };

export function decideClaim(claim: Claim, owner: NameOwner): ClaimDecision {
  const file = claim.origin === "file";
  switch (owner.kind) {
    case "free":
      return { kind: "take", how: "create" };
    case "foreign":
      return { kind: "not-owned" };
    case "vm":
      if (owner.vmid === claim.vmid) return { kind: "take", how: "keep" };
      return file
        ? { kind: "take", how: "take-over" }
        : { kind: "refuse", reason: `belongs to VM ${owner.vmid}; a Notes block cannot take it` };
    case "unlabelled":
      return file
        ? { kind: "take", how: "adopt" }
        : {
            kind: "refuse",
            reason:
              "was written without a VM label (older version or `dns set`); only the config file can assign it",
          };
    case "contested":
      return file
        ? { kind: "take", how: "take-over" }
        : { kind: "refuse", reason: `is labelled for several VMs (${owner.vmids.join(", ")})` };
  }
}

export type ClaimPlan = StatePlan | { kind: "refused"; reason: string };

/**
 * Plans the write of a guest's name from what the master holds now
 * (compare-and-swap on that); a TTL other than `ttl` is rewritten too.
 */
export function planClaim(
  name: string,
  desired: Addresses,
  state: NameState,
  claim: Claim,
  ownerId: string,
  ttl?: number,
): ClaimPlan {
  const owner = nameOwner(state, ownerId);
  const decision = decideClaim(claim, owner);
  if (decision.kind === "not-owned") return decision;
  if (decision.kind === "refuse") return { kind: "refused", reason: decision.reason };
  const label = ownershipTxt(ownerId, claim.vmid);
  const withTtl = ttl === undefined ? {} : { ttl };
  if (owner.kind === "free" || owner.kind === "foreign") {
    return { kind: "write", write: { name, desired, claim, form: { kind: "create", label }, ...withTtl } };
  }
  const relabel: Relabel | undefined =
    owner.ours.length === 1 && owner.ours[0] === label
      ? undefined
      : {
          remove: owner.ours.filter((t) => t !== label),
          ...(owner.ours.includes(label) ? {} : { add: label }),
        };
  if (!relabel && alreadyServed(state, desired, ttl)) return { kind: "unchanged" };
  const expect = { a: [...state.a], aaaa: [...state.aaaa] };
  return {
    kind: "write",
    write: {
      name,
      desired,
      claim,
      form: { kind: "replace", expect, txt: [...state.txt], ...(relabel ? { relabel } : {}) },
      ...withTtl,
    },
  };
}

/**
 * A guest's write failed its prerequisites; `state` was read back. The
 * ownership rules decide again on what is there now: someone may have taken
 * or freed the name meanwhile. One retry, then "stale" (the next run retries).
 */
export function planClaimAfterFailure(
  write: NameWrite,
  claim: Claim,
  state: NameState,
  retried: boolean,
  ownerId: string,
): FailurePlan | { kind: "refused"; reason: string } {
  const plan = planClaim(write.name, write.desired, state, claim, ownerId, write.ttl);
  if (plan.kind !== "write") return plan;
  // A create that failed on a name holding nothing we read: it is in use by other record types.
  if (plan.write.form.kind === "create") return { kind: "not-owned" };
  return retried ? { kind: "stale" } : { kind: "retry", write: plan.write };
}

/** What the registry of names we wrote remembers about one name. */
export interface ClaimRecord {
  vmid: number;
  origin: Claim["origin"];
  /** Set when the name was withdrawn (epoch ms): a tombstone of a name the file gave to `vmid`. */
  withdrawnAt?: number;
}

/** Why the registry forbids this claim, or undefined when it allows it (see the header). */
export function registryRefusal(claim: Claim, record: ClaimRecord | undefined): string | undefined {
  if (!record || claim.origin === "file") return undefined;
  if (record.withdrawnAt !== undefined)
    return `was given to VM ${record.vmid} by the config file before; only the file can assign it again`;
  if (record.vmid !== claim.vmid) return `belongs to VM ${record.vmid}; a Notes block cannot take it`;
  return undefined;
}
