import type { Proto } from "../config/types.ts";

// The desired state of one node's public face, computed purely from config +
// cluster snapshot (lib/desired) and handed to the node backends (lib/nat,
// lib/proxy). Backends render it, read back what is there, and converge.

/** A DNAT from the node's public IP to a VM. */
export interface NodeForward {
  vmid: number;
  proto: Proto;
  publicPort: number;
  /** The VM's private IP (on this node's bridge, or across the mesh during grace). */
  target: string;
  targetPort: number;
  /**
   * Set for grace forwarding: the VM has left this node; until this time
   * (epoch ms) new connections still go to its private IP over the mesh, and
   * must be masqueraded so replies come back through this node.
   */
  graceUntil?: number;
}

/** A TLS SNI (:443) or HTTP Host (:80) route on the node's proxy. */
export interface NodeRoute {
  vmid: number;
  kind: "sni" | "http";
  name: string;
  target: string;
  targetPort: number;
  graceUntil?: number;
}

export interface NodeDesired {
  node: string;
  publicInterface: string;
  publicIPv4: string;
  privateIP: string;
  /** The VM network behind NAT (CIDR); its outbound traffic is masqueraded. */
  vmNetwork: string;
  forwards: NodeForward[];
  routes: NodeRoute[];
}

/** What a VM's DNS names should point at. */
export interface DnsDesired {
  vmid: number;
  name: string;
  a: string[];
  aaaa: string[];
}
