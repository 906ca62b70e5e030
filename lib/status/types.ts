import type { NatForward } from "../nat/spec.ts";

// What `status` reports, as plain data: collect.ts fills it (read-only),
// render.ts turns it into text, --json prints it in the envelope. A leaf
// module, so both halves and the node-side reader share it.

/** One master candidate's answer for a name. */
export interface MasterAnswer {
  master: string;
  /** The master could not be asked (timeout, refused): why. */
  error?: string;
  exists?: boolean;
  addresses?: string[];
  /** Whose the name is by its TXT: "ours", "vm 101", "unlabelled", "not ours", "free", "contested 101,102". */
  owner?: string;
}

/** Why a name is not what the config wants. */
export type DriftReason =
  /** It exists without our ownership TXT: someone else's, never touched. */
  | "not ours"
  /** Our TXT names another guest (or several). */
  | "another VM's"
  /** The masters answer it differently (a lagging secondary, a one-sided write). */
  | "diverging masters"
  /** It points somewhere other than the VM's node (the VM moved; a switch did not finish). */
  | "stale"
  /** The VM runs but the name does not exist. */
  | "missing";

export interface NameStatus {
  name: string;
  /** The name came from the VM's Notes, not the config file. */
  fromNotes: boolean;
  /** What it should answer: the VM's node's public addresses when it runs; empty otherwise. */
  expected: string[];
  masters: MasterAnswer[];
  /** Empty when the name is as it should be. */
  drift: DriftReason[];
  /** Other servers clients ask (dns.propagation) that still answer something else: "server=answer". */
  lagging?: string[];
}

/** A forward or route as seen on a node, for one VM. */
export interface NodeEntry {
  node: string;
  kind: "forward" | "sni" | "http";
  /** "tcp/2222", "mail.example.org". */
  key: string;
  /** "10.10.1.101:22". */
  target: string;
  /** Seconds left of a grace entry, when nft says. */
  graceSeconds?: number;
}

export type AddressSource = "static" | "agent" | "dnsmasq" | "mac";

export interface VmStatus {
  vmid: number;
  node?: string;
  /** Proxmox's status ("running", "stopped"...), "missing" when the API does not list it. */
  state: string;
  /** Its whole block came from its Notes (the config file does not list it). */
  fromNotes: boolean;
  address: { ip?: string; ip6?: string; source: AddressSource; ip6Source?: "static" | "agent" };
  lastSwitchedTo?: string;
  names: NameStatus[];
  /** Forwards and routes on its own node that point at it. */
  present: NodeEntry[];
  /** Entries on other nodes that still point at it (grace after a move). */
  grace: NodeEntry[];
}

export interface PendingWork {
  id: string;
  kind: string;
  /** "cluster" (pmxcfs) or the node whose local journal holds it. */
  journal: string;
  vmid?: number;
  /** The last error, or what the item is waiting for. */
  reason: string;
  attempts: number;
  /** Seconds since it was first recorded. */
  ageSeconds: number;
}

/** What one node holds: read there (status --local) or through its exec seam. */
export interface NodeEntries {
  node: string;
  forwards: NatForward[];
  routes: { sni: Record<string, string>; http: Record<string, string> };
  /** This node's local journal. */
  pending: PendingWork[];
}

export interface StatusReport {
  quorate: boolean;
  nodes: Array<{ name: string; online: boolean; publicIPv4: string; publicIPv6?: string; error?: string }>;
  vms: VmStatus[];
  pending: PendingWork[];
  /** What VMs' Notes asked for and did not get (escaped lines). */
  notes: string[];
  /** What could not be read (a node, a master): the report is incomplete there. */
  errors: string[];
}
