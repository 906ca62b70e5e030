import type { NodeDesired } from "../../lib/desired/types.ts";

// The pure NAT and proxy tests plan for one node, pve1 (203.0.113.10 on
// eno1, mesh 10.10.0.1, VMs in 10.10.0.0/16); each gives only its forwards
// or routes, and the IPv6 tests its IPv6 addresses and peers.

export function pve1Desired(more: Partial<NodeDesired> = {}): NodeDesired {
  return {
    node: "pve1",
    publicInterface: "eno1",
    publicIPv4: "203.0.113.10",
    privateIP: "10.10.0.1",
    vmNetwork: "10.10.0.0/16",
    forwards: [],
    routes: [],
    ...more,
  };
}
