import type { Proto } from "../config/types.ts";
import type { NodeDesired } from "../desired/types.ts";
import { InputError } from "../errors.ts";
import { checkInterfaceName, checkIPv4, checkIPv4Cidr, checkNftName, checkPort } from "./validate.ts";

// PURE: NodeDesired -> the validated description of the node's nft table at a
// given moment. Grace forwards that already ended are dropped here (the
// reconcile enforces expiry even if nft's own timeout did not fire, e.g.
// because the table was re-created); the rest keep their absolute end time.

export interface NatForward {
  proto: Proto;
  publicPort: number;
  target: string;
  targetPort: number;
  /** Epoch ms; set for grace forwards (the VM left: masquerade toward the mesh). */
  graceUntil?: number;
  /** Only known on the desired side (nft does not store it); for plan lines. */
  vmid?: number;
}

export interface NatSpec {
  table: string;
  publicInterface: string;
  publicIPv4: string;
  vmNetwork: string;
  /** Sorted by proto, then public port; at most one per (proto, port). */
  forwards: NatForward[];
}

export const forwardKey = (f: { proto: Proto; publicPort: number }): string => `${f.proto}/${f.publicPort}`;

export function byProtoPort(a: NatForward, b: NatForward): number {
  return a.proto === b.proto ? a.publicPort - b.publicPort : a.proto < b.proto ? -1 : 1;
}

export function natSpec(desired: NodeDesired, table: string, now: number): NatSpec {
  const spec: NatSpec = {
    table: checkNftName("nat.table", table),
    publicInterface: checkInterfaceName("nodes.publicInterface", desired.publicInterface),
    publicIPv4: checkIPv4("nodes.publicIPv4", desired.publicIPv4),
    vmNetwork: checkIPv4Cidr("vmNetwork", desired.vmNetwork),
    forwards: [],
  };
  const chosen = new Map<string, NatForward>();
  desired.forwards.forEach((f, i) => {
    const field = `forwards[${i}]`;
    if (f.proto !== "tcp" && f.proto !== "udp") {
      throw new InputError(`${field}.proto: must be tcp or udp (got ${JSON.stringify(f.proto)})`);
    }
    const fwd: NatForward = {
      proto: f.proto,
      publicPort: checkPort(`${field}.publicPort`, f.publicPort),
      target: checkIPv4(`${field}.target`, f.target),
      targetPort: checkPort(`${field}.targetPort`, f.targetPort),
      vmid: f.vmid,
    };
    if (f.graceUntil !== undefined) {
      if (!Number.isFinite(f.graceUntil))
        throw new InputError(`${field}.graceUntil: must be epoch milliseconds`);
      if (f.graceUntil <= now) return; // grace is over: the old node lets go
      fwd.graceUntil = f.graceUntil;
    }
    const key = forwardKey(fwd);
    const other = chosen.get(key);
    if (other === undefined) {
      chosen.set(key, fwd);
    } else if ((other.graceUntil === undefined) === (fwd.graceUntil === undefined)) {
      throw new InputError(`${field}: ${key} is forwarded twice (vm ${other.vmid} and vm ${fwd.vmid})`);
    } else if (fwd.graceUntil === undefined) {
      // A VM that lives here now wins over the grace entry of one that left.
      chosen.set(key, fwd);
    }
  });
  spec.forwards = [...chosen.values()].sort(byProtoPort);
  return spec;
}
