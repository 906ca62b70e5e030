import type { Config, VmConfig } from "../config/types.ts";
import type { PeerRoute } from "./types.ts";

// PURE: the small decisions behind grace forwarding with the client's address
// kept (nat.graceMode policy-routing), shared by every node so they agree:
// which departure may keep the client's address, and which number names
// which peer node (its conntrack mark and routing table).

/** A recorded move, as computeDesired sees it. */
export interface DepartureLike {
  vmid: number;
  node: string;
  leftAt: number;
}

/**
 * The one departure per VM whose grace forwards may keep the client's address:
 * the latest. The VM's new node can tell grace traffic only by its
 * destination, so it routes replies to a single old node; a VM that moved
 * twice within the grace period has the older node masquerade (snat).
 */
export function clientKeepingDepartures<D extends DepartureLike>(
  config: Config,
  departures: readonly D[],
  hostedOn: ReadonlyMap<number, string>,
): Set<D> {
  const out = new Set<D>();
  if (config.nat.graceMode !== "policy-routing") return out;
  const latest = new Map<number, D>();
  for (const d of departures) {
    const seen = latest.get(d.vmid);
    if (!seen || d.leftAt > seen.leftAt) latest.set(d.vmid, d);
  }
  for (const d of latest.values()) {
    const host = hostedOn.get(d.vmid);
    // Only toward a VM that runs elsewhere: otherwise no node would route the replies back.
    if (host !== undefined && host !== d.node) out.add(d);
  }
  return out;
}

/** Peer numbers fit the 8 mark bits PEER_MARK_MASK leaves them (lib/nat/policy.ts). */
export const MAX_PEERS = 255;

/** Every other node with its number, in policy-routing mode; undefined otherwise. */
export function peerRoutes(config: Config, self: string): PeerRoute[] | undefined {
  if (config.nat.graceMode !== "policy-routing") return undefined;
  const names = Object.keys(config.nodes).sort();
  return names
    .slice(0, MAX_PEERS)
    .flatMap((node, i) =>
      node === self ? [] : [{ node, index: i + 1, privateIP: config.nodes[node]!.privateIP }],
    );
}

/** The VM's IPv6 as the config fixes it (static), when discovery did not give one. */
export function staticIp6(vm: VmConfig): string | undefined {
  return vm.ip6?.kind === "static" ? vm.ip6.address : undefined;
}
