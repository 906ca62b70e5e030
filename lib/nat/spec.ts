import { chooseLiveOverGrace, graceEnd } from "../backend/grace.ts";
import {
  checkInterfaceName,
  checkIPv4,
  checkIPv4Cidr,
  checkIPv6,
  checkIPv6Cidr,
  checkNftName,
  checkPort,
} from "../backend/validate.ts";
import type { Proto } from "../config/types.ts";
import { MAX_PEERS } from "../desired/grace.ts";
import { forwardKey } from "../desired/keys.ts";
import type { NodeDesired, NodeForward } from "../desired/types.ts";
import { InputError } from "../errors.ts";

// PURE: NodeDesired -> the validated description of the node's nft tables at a
// given moment. Grace forwards that already ended are dropped here (the
// reconcile enforces expiry even if nft's own timeout did not fire, e.g.
// because the table was re-created); the rest keep their absolute end time.
// A desired forward with a target6 becomes two: one per address family.

export type Family = 4 | 6;

export interface NatForward {
  /** Absent means 4 (what read-backs of older plans hold). */
  family?: Family;
  proto: Proto;
  publicPort: number;
  target: string;
  targetPort: number;
  /** Epoch ms; set for grace forwards (the VM left: masquerade toward the mesh). */
  graceUntil?: number;
  /** Only known on the desired side (nft does not store it); for plan lines. */
  vmid?: number;
}

/** Policy-routing grace on the VM's new node: connections from the mesh to `ip` belong to peer `peer`. */
export interface NatArrival {
  peer: number;
  ip: string;
}

export interface NatSpec {
  table: string;
  publicInterface: string;
  publicIPv4: string;
  /** Canonical; unset: no ip6 table. */
  publicIPv6?: string;
  vmNetwork: string;
  vmNetwork6?: string;
  /** Sorted by family, proto, then public port; at most one per (family, proto, port). */
  forwards: NatForward[];
  /** VM IPv4s whose grace connections are not masqueraded (nat.graceMode policy-routing). */
  keepClient: string[];
  /** Policy-routing mode: peer numbers (1-based) with their mesh addresses; undefined in snat mode. */
  peers?: Array<{ index: number; node: string; via: string }>;
  arrivals: NatArrival[];
}

export const familyOf = (f: { family?: Family }): Family => f.family ?? 4;

export { forwardKey };

export function byProtoPort(a: NatForward, b: NatForward): number {
  if (familyOf(a) !== familyOf(b)) return familyOf(a) - familyOf(b);
  return a.proto === b.proto ? a.publicPort - b.publicPort : a.proto < b.proto ? -1 : 1;
}

function checkForward(f: NodeForward, field: string, now: number): NatForward[] | undefined {
  if (f.proto !== "tcp" && f.proto !== "udp") {
    throw new InputError(`${field}.proto: must be tcp or udp (got ${JSON.stringify(f.proto)})`);
  }
  const base: NatForward = {
    proto: f.proto,
    publicPort: checkPort(`${field}.publicPort`, f.publicPort),
    target: checkIPv4(`${field}.target`, f.target),
    targetPort: checkPort(`${field}.targetPort`, f.targetPort),
    vmid: f.vmid,
  };
  const grace = graceEnd(field, f.graceUntil, now);
  if (grace === "ended") return undefined;
  if (grace !== undefined) base.graceUntil = grace;
  if (f.target6 === undefined) return [base];
  return [base, { ...base, family: 6, target: checkIPv6(`${field}.target6`, f.target6) }];
}

export function natSpec(desired: NodeDesired, table: string, now: number): NatSpec {
  const publicIPv6 =
    desired.publicIPv6 === undefined ? undefined : checkIPv6("nodes.publicIPv6", desired.publicIPv6);
  const spec: NatSpec = {
    table: checkNftName("nat.table", table),
    publicInterface: checkInterfaceName("nodes.publicInterface", desired.publicInterface),
    publicIPv4: checkIPv4("nodes.publicIPv4", desired.publicIPv4),
    ...(publicIPv6 ? { publicIPv6 } : {}),
    vmNetwork: checkIPv4Cidr("vmNetwork", desired.vmNetwork),
    ...(desired.vmNetwork6 ? { vmNetwork6: checkIPv6Cidr("vmNetwork6", desired.vmNetwork6) } : {}),
    forwards: [],
    keepClient: [],
    arrivals: [],
  };
  const chosen = new Map<string, NatForward>();
  const keep = new Set<string>();
  desired.forwards.forEach((f, i) => {
    const field = `forwards[${i}]`;
    for (const fwd of checkForward(f, field, now) ?? []) {
      // Without a public IPv6 nothing could reach an IPv6 forward.
      if (familyOf(fwd) === 6 && !publicIPv6) continue;
      const key = forwardKey(fwd);
      chooseLiveOverGrace(
        chosen,
        key,
        fwd,
        (other) => `${field}: ${key} is forwarded twice (vm ${other.vmid} and vm ${fwd.vmid})`,
      );
      if (f.keepClient && fwd.graceUntil !== undefined && familyOf(fwd) === 4) keep.add(fwd.target);
    }
  });
  spec.forwards = [...chosen.values()].sort(byProtoPort);
  // Only targets some grace forward still uses: a live forward to the same VM is not grace.
  spec.keepClient = [...keep]
    .filter((ip) => spec.forwards.some((f) => f.graceUntil && f.target === ip))
    .sort();
  if (desired.peers) {
    spec.peers = desired.peers.map((p, i) => {
      if (!Number.isInteger(p.index) || p.index < 1 || p.index > MAX_PEERS)
        throw new InputError(`peers[${i}].index: must be 1-${MAX_PEERS} (got ${p.index})`);
      return { index: p.index, node: p.node, via: checkIPv4(`peers[${i}].privateIP`, p.privateIP) };
    });
    const indexOf = new Map(spec.peers.map((p) => [p.node, p.index]));
    spec.arrivals = (desired.arrivals ?? []).flatMap((a, i) => {
      const peer = indexOf.get(a.from);
      return peer === undefined ? [] : [{ peer, ip: checkIPv4(`arrivals[${i}].ip`, a.ip) }];
    });
  }
  return spec;
}
