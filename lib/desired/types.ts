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
  /** The VM's IPv6 (vms.*.ip6): the node's public IPv6 forwards the same port there. */
  target6?: string;
  /**
   * Set for grace forwarding: the VM has left this node; until this time
   * (epoch ms) new connections still go to its private IP over the mesh, and
   * must be masqueraded so replies come back through this node.
   */
  graceUntil?: number;
  /**
   * Grace only, nat.graceMode policy-routing: DNAT without masquerading, so
   * the VM sees the client's address; the VM's new node routes the replies
   * back over the mesh (see NodeDesired.arrivals).
   */
  keepClient?: boolean;
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

/**
 * A VM hosted here whose old node grace-forwards clients to it without
 * masquerading (keepClient, IPv4 only): connections from the mesh to `ip` are
 * marked for peer `from`, and the VM's replies are routed back over the mesh
 * through that node, where its conntrack entry rewrites them.
 */
export interface Arrival {
  vmid: number;
  from: string;
  ip: string;
}

/** Another node, as the policy routing of grace replies names it (nat.graceMode policy-routing). */
export interface PeerRoute {
  node: string;
  /** 1-based position in the config's sorted node names: the same number on every node. */
  index: number;
  privateIP: string;
}

export interface NodeDesired {
  node: string;
  publicInterface: string;
  publicIPv4: string;
  /** Set: the node forwards IPv6 too (forwards with a target6). */
  publicIPv6?: string;
  privateIP: string;
  /** The VM network behind NAT (CIDR); its outbound traffic is masqueraded. */
  vmNetwork: string;
  /** The VMs' IPv6 network, masqueraded outbound like vmNetwork. */
  vmNetwork6?: string;
  forwards: NodeForward[];
  routes: NodeRoute[];
  /** Policy-routing grace: VMs that arrived here and whose replies go back over the mesh. */
  arrivals?: Arrival[];
  /** Policy-routing grace: one routing table per other node; absent in snat mode. */
  peers?: PeerRoute[];
}

/** What a VM's DNS names should point at. */
export interface DnsDesired {
  vmid: number;
  name: string;
  a: string[];
  aaaa: string[];
  /** dns.ttl, or dns.moveTtl while a planned move of the VM is under way (ttl.ts). */
  ttl: number;
}
