import type { Config, VmConfig } from "../config/types.ts";
import { clientKeepingDepartures, peerRoutes, staticIp6 } from "./grace.ts";
import { forwardKey, routeKey } from "./keys.ts";
import { dnsTtlFor, graceEndsAt, type PlannedMove } from "./ttl.ts";
import type { DnsDesired, NodeDesired, NodeForward, NodeRoute } from "./types.ts";

// PURE: (config, where each VM runs, recent departures, now, planned moves)
// -> what every node should forward and route, and what every name should
// resolve to, with which TTL.
// No I/O, no clock: identical input gives an identical result.

/** Where a configured VM is, as the cluster snapshot says, with its private IP resolved. */
export interface VmPlacement {
  vmid: number;
  node: string;
  /** Proxmox status: only "running" VMs get forwards, routes and DNS. */
  status: string;
  /** Resolved private IPv4; undefined when discovery failed (the VM is then left as it is). */
  ip?: string;
  /** Its IPv6, when discovered (ip6: agent); a static ip6 comes from the config. */
  ip6?: string;
}

/** A VM that left `node` at `leftAt`: that node grace-forwards to it until ttl.ts graceEndsAt. */
export interface Departure {
  vmid: number;
  node: string;
  ip: string;
  /** The IPv6 the old node forwarded to, when the VM had one. */
  ip6?: string;
  leftAt: number;
  /**
   * When every server clients may ask was seen answering the VM's new
   * addresses (the switch's propagation check, or a later one by the old
   * node): grace ends no sooner than this plus the names' TTL.
   */
  agreedAt?: number;
  /** When a server was last seen still answering the old address: grace goes on (ttl.ts graceEndsAt). */
  laggingAt?: number;
}

export interface DesiredState {
  nodes: Record<string, NodeDesired>;
  dns: DnsDesired[];
  /** Names to withdraw (dns.deleteOnStop and the VM stopped). */
  dnsWithdraw: Array<{ vmid: number; name: string }>;
  /** VMs whose entries could not be computed, and why. */
  unresolved: Array<{ vmid: number; reason: string }>;
  /** Two VMs wanting one public port or name on one node: the first keeps it. */
  conflicts: Array<{ node: string; key: string; kept: number; dropped: number }>;
}

function emptyNode(config: Config, name: string): NodeDesired {
  const n = config.nodes[name]!;
  const peers = peerRoutes(config, name);
  return {
    node: name,
    publicInterface: n.publicInterface,
    publicIPv4: n.publicIPv4,
    ...(n.publicIPv6 ? { publicIPv6: n.publicIPv6 } : {}),
    privateIP: n.privateIP,
    vmNetwork: config.vmNetwork,
    ...(config.vmNetwork6 ? { vmNetwork6: config.vmNetwork6 } : {}),
    forwards: [],
    routes: [],
    ...(peers ? { peers, arrivals: [] } : {}),
  };
}

interface Target {
  ip: string;
  ip6?: string;
  graceUntil?: number;
  keepClient?: boolean;
}

function entriesFor(vm: VmConfig, to: Target) {
  const { ip } = to;
  const grace = to.graceUntil === undefined ? {} : { graceUntil: to.graceUntil };
  const forwards: NodeForward[] = vm.forward.map((f) => ({
    vmid: vm.vmid,
    proto: f.proto,
    publicPort: f.publicPort,
    target: ip,
    targetPort: f.privatePort,
    ...(to.ip6 ? { target6: to.ip6 } : {}),
    ...grace,
    ...(to.keepClient ? { keepClient: true } : {}),
  }));
  const routes: NodeRoute[] = [
    ...vm.sni.map((r) => ({
      vmid: vm.vmid,
      kind: "sni" as const,
      name: r.name,
      target: ip,
      targetPort: r.port,
      ...grace,
    })),
    ...vm.http.map((r) => ({
      vmid: vm.vmid,
      kind: "http" as const,
      name: r.name,
      target: ip,
      targetPort: r.port,
      ...grace,
    })),
  ];
  return { forwards, routes };
}

/** Per node, which VM holds each forward and route key: kept across calls, so adding is linear in entries. */
type TakenKeys = Map<string, Map<string, number>>;

/**
 * Adds entries to a node, first come first served per key; hosted VMs are
 * added before grace entries, so a VM that lives on the node always beats a
 * departed VM's grace forward.
 */
function addEntries(
  state: DesiredState,
  takenKeys: TakenKeys,
  node: NodeDesired,
  entries: { forwards: NodeForward[]; routes: NodeRoute[] },
): void {
  const taken = takenKeys.get(node.node) ?? new Map<string, number>();
  takenKeys.set(node.node, taken);
  const admit = (key: string, vmid: number) => {
    const owner = taken.get(key);
    if (owner === undefined) taken.set(key, vmid);
    if (owner === undefined || owner === vmid) return true;
    state.conflicts.push({ node: node.node, key, kept: owner, dropped: vmid });
    return false;
  };
  node.forwards.push(...entries.forwards.filter((f) => admit(forwardKey(f), f.vmid)));
  node.routes.push(...entries.routes.filter((r) => admit(routeKey(r), r.vmid)));
}

/** Items grouped by their vmid, in their order: per-VM lookups without scanning every item. */
function byVmidOf<T extends { vmid: number }>(items: readonly T[]): (vmid: number) => readonly T[] {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const group = groups.get(item.vmid);
    if (group) group.push(item);
    else groups.set(item.vmid, [item]);
  }
  return (vmid) => groups.get(vmid) ?? [];
}

export function computeDesired(
  config: Config,
  placements: VmPlacement[],
  departures: Departure[],
  now: number,
  moves: readonly PlannedMove[] = [],
): DesiredState {
  const state: DesiredState = { nodes: {}, dns: [], dnsWithdraw: [], unresolved: [], conflicts: [] };
  const taken: TakenKeys = new Map();
  // Moves and departures only ever concern their own VM (ttl.ts): each VM looks at its own.
  const movesOf = byVmidOf(moves);
  const departuresOf = byVmidOf(departures);
  for (const name of Object.keys(config.nodes).sort()) state.nodes[name] = emptyNode(config, name);
  const byVmid = [...placements].sort((a, b) => a.vmid - b.vmid);

  for (const p of byVmid) {
    const vm = config.vms[String(p.vmid)];
    if (!vm) continue;
    const node = state.nodes[p.node];
    if (!node) {
      state.unresolved.push({
        vmid: p.vmid,
        reason: `runs on ${p.node}, which is not in the config's nodes`,
      });
      continue;
    }
    if (p.status !== "running") {
      if (p.status === "stopped" && config.dns.deleteOnStop) {
        for (const name of vm.dns) state.dnsWithdraw.push({ vmid: vm.vmid, name });
      }
      continue;
    }
    const n = config.nodes[p.node]!;
    // AAAA only where something serves it: the node forwards IPv6 and the VM has an ip6.
    const aaaa = n.publicIPv6 && vm.ip6 ? [n.publicIPv6] : [];
    const ttl = dnsTtlFor(config, vm.vmid, movesOf(vm.vmid), departuresOf(vm.vmid), now);
    for (const name of vm.dns) {
      state.dns.push({ vmid: vm.vmid, name, a: [n.publicIPv4], aaaa, ttl });
    }
    if (!p.ip) {
      state.unresolved.push({
        vmid: p.vmid,
        reason: "its private IP is unknown (guest agent or leases gave none)",
      });
      continue;
    }
    const ip6 = p.ip6 ?? staticIp6(vm);
    addEntries(state, taken, node, entriesFor(vm, { ip: p.ip, ...(ip6 ? { ip6 } : {}) }));
  }

  const hostedOn = new Map(byVmid.filter((p) => p.status === "running").map((p) => [p.vmid, p.node]));
  const graceUntil = (d: Departure) => graceEndsAt(config, d, movesOf(d.vmid), now);
  const inGrace = departures.filter((d) => graceUntil(d) > now && config.vms[String(d.vmid)]);
  const keepClient = clientKeepingDepartures(config, inGrace, hostedOn);
  for (const d of [...inGrace].sort((a, b) => a.vmid - b.vmid || a.node.localeCompare(b.node))) {
    const vm = config.vms[String(d.vmid)]!;
    const node = state.nodes[d.node];
    // Unknown node, or back home: nothing to forward.
    if (!node || hostedOn.get(d.vmid) === d.node) continue;
    const ip6 = d.ip6 ?? staticIp6(vm);
    const keep = keepClient.has(d);
    addEntries(
      state,
      taken,
      node,
      entriesFor(vm, { ip: d.ip, ...(ip6 ? { ip6 } : {}), graceUntil: graceUntil(d), keepClient: keep }),
    );
    const host = state.nodes[hostedOn.get(d.vmid) ?? ""];
    if (keep && host?.arrivals) host.arrivals.push({ vmid: d.vmid, from: d.node, ip: d.ip });
  }

  for (const node of Object.values(state.nodes)) {
    node.forwards.sort((a, b) => a.proto.localeCompare(b.proto) || a.publicPort - b.publicPort);
    node.routes.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
  }
  state.dns.sort((a, b) => a.name.localeCompare(b.name));
  return state;
}

/**
 * The forwards and routes `vmid` would collide with on `node`, given what
 * runs there now: the migrate preflight and strict pre-start ask this.
 */
export function collisionsOnNode(
  config: Config,
  vmid: number,
  node: string,
  placements: VmPlacement[],
): string[] {
  const vm = config.vms[String(vmid)];
  if (!vm) return [];
  const out: string[] = [];
  for (const p of placements) {
    if (p.vmid === vmid || p.node !== node || p.status !== "running") continue;
    const other = config.vms[String(p.vmid)];
    if (!other) continue;
    for (const f of vm.forward) {
      if (other.forward.some((g) => g.proto === f.proto && g.publicPort === f.publicPort)) {
        out.push(`${f.proto}/${f.publicPort} is held by VM ${p.vmid} on ${node}`);
      }
    }
    for (const [kind, mine, theirs] of [
      ["sni", vm.sni, other.sni],
      ["http", vm.http, other.http],
    ] as const) {
      for (const r of mine) {
        if (theirs.some((t) => t.name === r.name))
          out.push(`${kind} ${r.name} is routed to VM ${p.vmid} on ${node}`);
      }
    }
  }
  return out;
}
