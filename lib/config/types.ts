// The validated, normalized cluster config. Every other module consumes these
// types, never the raw YAML: defaults are filled in and strings like
// "tcp/2222:22" or "10.10.1.53:5353" are already parsed.

export type Proto = "tcp" | "udp";

/** One public port on the hosting node forwarded to a port of the VM. */
export interface Forward {
  proto: Proto;
  publicPort: number;
  privatePort: number;
}

/** Ports of one protocol, from-to inclusive (from === to for one port). */
export interface PortRange {
  proto: Proto;
  from: number;
  to: number;
}

/** A TLS SNI or HTTP Host name routed to a port of the VM. */
export interface Route {
  name: string;
  port: number;
}

/** How the VM's private IP is found: a fixed address, or discovered at run time. */
export type IpSource =
  | { kind: "static"; address: string }
  | { kind: "agent" }
  | { kind: "dnsmasq" }
  | { kind: "mac" };

/** How the VM's IPv6 (DNAT target of the node's public IPv6) is found. */
export type Ip6Source = { kind: "static"; address: string } | { kind: "agent" };

export interface VmConfig {
  vmid: number;
  ip: IpSource;
  /** Unset: the VM gets no IPv6 forwards and its names no AAAA record. */
  ip6?: Ip6Source;
  /** Fully qualified names (no trailing dot, lower case) inside dns.zone. */
  dns: string[];
  forward: Forward[];
  sni: Route[];
  http: Route[];
  /** Nodes the VM may run on (an HA group, say); default: every node. */
  nodes: string[];
  /** The file's per-VM switch for its Notes; unset: `notes.enabled` decides. */
  notesAllowed?: boolean;
  /** The file lets this VM route SNI/HTTP names outside dns.zone (never from Notes); unset: false. */
  externalNames?: boolean;
  /** DNS names this VM's Notes block contributed (set by mergeNotes; untrusted). */
  notesClaims?: readonly string[];
}

/** How a VM that only its Notes describe is found on the VM network (Notes never name an address). */
export type NotesIpSource = "agent" | "dnsmasq" | "mac";

/**
 * What a VM's Notes block may ask for. Notes are writable by whoever holds
 * VM.Config.Options on the VM (its tenant), so they are off unless the file
 * turns them on, and then bounded by this policy.
 */
export interface NotesPolicy {
  enabled: boolean;
  /** dns/sni/http names a Notes block may claim: strict subdomains of these (inside dns.zone). */
  dnsSuffixes: string[];
  /** Public ports a Notes block may forward. */
  ports: PortRange[];
  /** Per VM: dns + sni + http entries together. */
  maxNames: number;
  /** Per VM: forward entries. */
  maxForwards: number;
  /** How a VM listed only in Notes gets its address. */
  ip: NotesIpSource;
}

export interface NodeConfig {
  name: string;
  publicIPv4: string;
  /** When set, the node forwards IPv6 too, and names of its VMs that have an `ip6` get an AAAA record. */
  publicIPv6?: string;
  /** Address on the private mesh: corosync, ssh between nodes, grace forwarding. */
  privateIP: string;
  publicInterface: string;
  /** Where ssh reaches the node; default privateIP. */
  sshHost: string;
  /** The node's own address on the VM bridge (its VMs' gateway): never a VM's address. */
  vmGateway: string;
}

export type TsigAlgorithm = "hmac-sha1" | "hmac-sha224" | "hmac-sha256" | "hmac-sha384" | "hmac-sha512";

export interface DnsMaster {
  host: string;
  port: number;
}

export interface DnsConfig {
  zone: string;
  masters: DnsMaster[];
  tsig: { name: string; algorithm: TsigAlgorithm; secretFile: string };
  ttl: number;
  /** Per attempt, per master. */
  timeoutMs: number;
  /** Bound on one whole update including backoff rounds. */
  totalTimeoutMs: number;
  ownerId: string;
  /** Withdraw a VM's names on a real stop (default: keep them). */
  deleteOnStop: boolean;
  /**
   * Names are read in full at least this often (minutes; 0: every run). In between, a run whose
   * zone serial is unchanged at the same master reuses the last read (lib/dns/read-reuse.ts).
   * The schema always sets it (default 10); absent in hand-built configs means the default.
   */
  fullReadMinutes?: number;
  /** TTL of a VM's names while a planned move (`migrate`) is under way, until its grace period ends. */
  moveTtl: number;
  /** Which servers a switch reads its names back from (absent: the master candidates only). */
  propagation?: DnsPropagation;
}

export interface DnsPropagation {
  /** Also ask the zone's NS set, its addresses resolved at the masters. */
  nameServers: boolean;
  /** CIDRs an NS address must be in to be asked; the others are listed as skipped. */
  allow: string[];
  /** The port NS addresses are asked at. */
  port: number;
  /** More servers to ask (hidden secondaries), as host:port. */
  servers: DnsMaster[];
  /** After a switch, how long to wait for every server to answer the new addresses. */
  waitSeconds: number;
}

export interface ProxmoxConfig {
  endpoints: string[];
  tokenId: string;
  tokenSecretFile: string;
  /** PEM file of the CA the API certificate must chain to, or "system" (the OS's trusted CAs). */
  caFile?: string;
  /** SHA-256 fingerprint of the API certificate, "AA:BB:..."; alternative to caFile. */
  fingerprint?: string;
  /** Name the API certificate must carry instead of the endpoint's host ("{node}" already replaced). */
  serverName?: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

export interface NatConfig {
  backend: "nftables" | "none";
  table: string;
  /**
   * How the old node's grace forwards get their replies back: `snat`
   * masquerades toward the mesh (the VM sees the old node's mesh address);
   * `policy-routing` keeps the client's address and the new node routes the
   * replies back over the mesh by conntrack mark (IPv4). Default `snat`.
   */
  graceMode?: "snat" | "policy-routing";
}

export interface ProxyConfig {
  backend: "haproxy" | "nginx" | "none";
  socket: string;
  mapDir: string;
  httpsPort: number;
  httpPort: number;
  proxyProtocol: boolean;
}

/**
 * How this node reaches another node to run `pvemigrate-dns apply --local`
 * there. `ssh` in production; `netns` for tests and the demo: the command
 * runs on this machine with `--node X`, and node X's programs (nft, haproxy
 * reload) run inside network namespace netns[X].
 */
export interface RemoteConfig {
  transport: "ssh" | "netns";
  sshUser: string;
  connectTimeoutSeconds: number;
  /** argv of the CLI on the other node. */
  command: string[];
  netns: Record<string, string>;
}

export interface Config {
  /** The file this came from, for messages. */
  source: string;
  proxmox: ProxmoxConfig;
  nodes: Record<string, NodeConfig>;
  /** The private VM network behind every node's NAT, e.g. 10.10.0.0/16. */
  vmNetwork: string;
  /** The VMs' IPv6 network (a ULA, say): masqueraded outbound, where `ip6: agent` looks. */
  vmNetwork6?: string;
  dns: DnsConfig;
  nat: NatConfig;
  proxy: ProxyConfig;
  graceSeconds: number;
  /**
   * The bound on grace while not every server answers the new address yet
   * (lib/desired/ttl.ts graceEndsAt): a dead name server must not keep the
   * old node forwarding forever.
   */
  graceMaxSeconds: number;
  remote: RemoteConfig;
  /** reconcile refuses to rewrite or remove more than this share of managed names/forwards without --force. */
  safety: { maxChangePercent: number };
  /** Where reconcile writes its Prometheus metrics (node_exporter's textfile collector); off when unset. */
  metrics: { textfile?: string };
  /** How long a migration watcher waits for a live migration to finish. */
  migrationWatchSeconds: number;
  /** The nodes' own services (sshd, pveproxy, corosync, ...): no VM forward may claim them. */
  reservedPorts: PortRange[];
  /** pre-start refuses a VM whose forwards would collide on the node. */
  strict: boolean;
  /** Node-local state; "{node}" is replaced by the node's name (several simulated nodes on one machine). */
  stateDir: string;
  /** pmxcfs root (/etc/pve); a temp dir in tests. */
  pveRoot: string;
  /** dnsmasq leases file for `ip: dnsmasq`. */
  dnsmasqLeases: string;
  /** What VMs' Notes blocks may set; off by default. */
  notes: NotesPolicy;
  vms: Record<string, VmConfig>;
}

/** One validation problem: the dotted field path and what is wrong with it. */
export interface Problem {
  path: string;
  message: string;
}

/** proxmox.caFile's word for "the system's trusted CAs". */
export const SYSTEM_CAS = "system";

export const DEFAULT_CONFIG_PATH = "/etc/pve/pvemigrate-dns.yaml";
