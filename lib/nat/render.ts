import type { Proto } from "../config/types.ts";
import type { NatForward, NatSpec } from "./spec.ts";

// PURE: NatSpec -> the nft script that replaces the whole table in one
// transaction, and the table's layout (everything but map elements) in the
// exact form `nft list table` prints it, so a read-back can be compared line
// by line. Both come from tableLayout(), so they cannot drift apart.

/**
 * ct mark bit for grace connections: DNATed to a VM that now lives on another
 * node, so postrouting masquerades them toward the mesh and the VM's replies
 * come back through this node (instead of leaving through its new node's
 * gateway, where the client would drop them). OR-ed in, so other users of
 * the ct mark keep their bits.
 */
export const GRACE_MARK = "0x00100000";

const PROTOS: readonly Proto[] = ["tcp", "udp"];
const MAP_TYPE = "type inet_service : ipv4_addr . inet_service";

export interface LayoutBlock {
  kind: "map" | "chain";
  name: string;
  /** Declaration / rule lines, as nft prints them. */
  lines: string[];
  /** Map elements for the script (ignored by the layout comparison). */
  elements: string[];
}

export const liveMap = (proto: Proto): string => `fwd_${proto}`;
export const graceMap = (proto: Proto): string => `grace_${proto}`;

export function tableLayout(spec: NatSpec, now: number): LayoutBlock[] {
  const maps: LayoutBlock[] = [];
  for (const proto of PROTOS) {
    const mine = spec.forwards.filter((f) => f.proto === proto);
    maps.push({
      kind: "map",
      name: liveMap(proto),
      lines: [MAP_TYPE],
      elements: mine.filter((f) => f.graceUntil === undefined).map((f) => element(f, now)),
    });
    maps.push({
      kind: "map",
      name: graceMap(proto),
      lines: [MAP_TYPE, "flags timeout"],
      elements: mine.filter((f) => f.graceUntil !== undefined).map((f) => element(f, now)),
    });
  }
  const onPublic = `iifname "${spec.publicInterface}" ip daddr ${spec.publicIPv4}`;
  const prerouting: LayoutBlock = {
    kind: "chain",
    name: "prerouting",
    lines: [
      "type nat hook prerouting priority dstnat; policy accept;",
      ...PROTOS.map((p) => `${onPublic} dnat ip to ${p} dport map @${liveMap(p)}`),
      ...PROTOS.map(
        (p) =>
          `${onPublic} ${p} dport @${graceMap(p)} ct mark set ct mark | ${GRACE_MARK} dnat ip to ${p} dport map @${graceMap(p)}`,
      ),
    ],
    elements: [],
  };
  const postrouting: LayoutBlock = {
    kind: "chain",
    name: "postrouting",
    lines: [
      "type nat hook postrouting priority srcnat; policy accept;",
      // The VMs' own outbound traffic leaves with the node's public address.
      `ip saddr ${spec.vmNetwork} oifname "${spec.publicInterface}" masquerade`,
      `ct mark & ${GRACE_MARK} != 0x00000000 masquerade`,
    ],
    elements: [],
  };
  return [...maps, prerouting, postrouting];
}

function element(f: NatForward, now: number): string {
  // Re-creating the table restarts nft's clock: give the REMAINING time.
  const timeout =
    f.graceUntil === undefined ? "" : ` timeout ${Math.max(1, Math.ceil(f.graceUntil - now))}ms`;
  return `${f.publicPort}${timeout} : ${f.target} . ${f.targetPort}`;
}

/**
 * The whole transaction for `nft -f -`: declaring then deleting the table makes
 * the delete succeed whether or not it existed, and nft applies the file
 * atomically, so there is no moment without forwards. Other tables are never named.
 */
export function renderNftScript(spec: NatSpec, now: number): string {
  const out = [`table ip ${spec.table}`, `delete table ip ${spec.table}`, `table ip ${spec.table} {`];
  for (const block of tableLayout(spec, now)) {
    out.push(`\t${block.kind} ${block.name} {`);
    for (const line of block.lines) out.push(`\t\t${line}`);
    if (block.elements.length > 0) out.push(`\t\telements = { ${block.elements.join(",\n\t\t\t     ")} }`);
    out.push("\t}");
  }
  out.push("}");
  return `${out.join("\n")}\n`;
}

/** The layout as comparable strings: "map fwd_tcp: type ...". */
export function layoutLines(blocks: readonly LayoutBlock[]): string[] {
  return blocks.flatMap((b) => b.lines.map((l) => `${b.kind} ${b.name}: ${l}`));
}
