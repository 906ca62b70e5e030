import type { Departure } from "../desired/compute.ts";
import type { LastApplied } from "../state/last-applied.ts";

// PURE: where a VM that now runs on `self` came from, and the departure the
// switch records for that node (so it grace-forwards to the VM instead of
// dropping it). The caller's hint (the hook's `migratedFrom`, migrate's
// `--from`) wins over the last switch's record; a node that is this one or
// not in the config is no origin. The old node forwards to the address it
// forwarded to (the last switch's), else to the VM's current one.

export interface SwitchOrigin {
  from?: string;
  /** Unset when there is no origin, or no private IPv4 to grace-forward to. */
  departure?: Departure;
}

export function switchOrigin(input: {
  self: string;
  /** The node the caller says the VM came from. */
  hint?: string | undefined;
  last?: Pick<LastApplied, "node" | "privateIPs" | "privateIPv6"> | undefined;
  knownNodes: ReadonlySet<string>;
  /** The VM's private addresses now (the placement's). */
  ip?: string | undefined;
  ip6?: string | undefined;
  vmid: number;
  now: number;
}): SwitchOrigin {
  const { self, last, knownNodes } = input;
  const from = [input.hint, last?.node].find(
    (n): n is string => n !== undefined && n !== "" && n !== self && knownNodes.has(n),
  );
  if (from === undefined) return {};
  const ip = last?.privateIPs[0] ?? input.ip;
  // The IPv6 the old node forwarded to (a discovered one too): grace forwards IPv6 with it.
  const ip6 = last?.privateIPv6 ?? input.ip6;
  if (!ip) return { from };
  return {
    from,
    departure: { vmid: input.vmid, node: from, ip, ...(ip6 ? { ip6 } : {}), leftAt: input.now },
  };
}
