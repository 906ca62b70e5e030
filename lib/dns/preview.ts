import type { VmConfig } from "../config/types.ts";
import { type Addresses, type NameState, planFromState, sameAddresses } from "./changes.ts";
import { nameOwner } from "./ownership.ts";
import type { DeleteResult, NameOutcome } from "./types.ts";

// PURE: what `dns set` / `dns delete` would do, from the name as a master
// holds it now (--dry-run), and whether a VM manages the name, so a manual
// change would be undone by the next reconcile.

const holding = (s: NameState) => ({ a: s.a, aaaa: s.aaaa, txt: s.txt });
const hasRecords = (s: NameState) => s.a.length + s.aaaa.length + s.txt.length > 0;

/** The outcome `dns set` would have: the same compare-and-swap rules, evaluated on a read. */
export function previewSet(
  name: string,
  master: string,
  desired: Addresses,
  expect: Addresses | undefined,
  state: NameState,
): NameOutcome {
  if (hasRecords(state) && !state.owned) return { name, status: "not-owned", master, actual: holding(state) };
  if (expect && !sameAddresses(state, expect))
    return { name, status: "stale", master, expected: expect, actual: { a: state.a, aaaa: state.aaaa } };
  const plan = planFromState(name, desired, state);
  if (plan.kind === "unchanged") return { name, status: "unchanged", master, ...desired };
  if (plan.kind === "not-owned") return { name, status: "not-owned", master, actual: holding(state) };
  return { name, status: "updated", master, ...desired };
}

/** The result `dns delete` would have. */
export function previewDelete(name: string, master: string, state: NameState): DeleteResult {
  if (!state.owned)
    return hasRecords(state)
      ? { name, status: "not-owned", master, actual: holding(state) }
      : { name, status: "absent", master };
  return { name, status: "deleted", master };
}

/**
 * Who puts the name back: a VM whose `dns` in the config file lists it, or
 * (when the name was read) the VM our ownership TXT names (a Notes claim).
 */
export function managedBy(
  name: string,
  vms: Readonly<Record<string, Pick<VmConfig, "vmid" | "dns">>>,
  read?: { state: NameState; ownerId: string },
): string | undefined {
  const vm = Object.values(vms).find((v) => v.dns.includes(name));
  if (vm) return `VM ${vm.vmid} manages ${name} (vms.${vm.vmid}.dns)`;
  const owner = read ? nameOwner(read.state, read.ownerId) : undefined;
  if (owner?.kind === "vm")
    return `VM ${owner.vmid} manages ${name} (its ownership TXT says vm=${owner.vmid})`;
  return undefined;
}
