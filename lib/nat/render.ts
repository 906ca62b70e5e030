import type { Proto } from "../config/types.ts";
import { PEER_MARK_MASK, peerMark } from "./policy.ts";
import { type Family, familyOf, type NatForward, type NatSpec } from "./spec.ts";

// PURE: NatSpec -> the nft script that replaces the node's tables in one
// transaction, and each table's layout (everything but map and set elements)
// in the exact form `nft list table` prints it, so a read-back can be compared
// line by line. Both come from tableLayout(), so they cannot drift apart.
//
// Two tables of one name, `table ip X` and `table ip6 X`, rather than one
// `table inet X`: the IPv4 table keeps the name and family every earlier
// version, `doctor`, the docs and admins' scripts use (no migration), a node
// without IPv6 has no ip6 table at all, and one `nft -f -` transaction still
// replaces both atomically. Conntrack (and so the ct marks below) is shared.

/**
 * ct mark bit for grace connections: DNATed to a VM that now lives on another
 * node, so postrouting masquerades them toward the mesh and the VM's replies
 * come back through this node (instead of leaving through its new node's
 * gateway, where the client would drop them). OR-ed in, so other users of
 * the ct mark keep their bits.
 */
export const GRACE_MARK = "0x00100000";

/**
 * ct mark bit for hairpin connections: from a VM (or anything not on the
 * public interface) to this node's public address. DNATed to a VM on the
 * same bridge, the reply would go straight back to the first VM, which
 * expects it from the public address: masquerading makes it return here.
 */
export const HAIRPIN_MARK = "0x00200000";

const PROTOS: readonly Proto[] = ["tcp", "udp"];

export interface LayoutBlock {
  kind: "map" | "set" | "chain";
  name: string;
  /** Declaration / rule lines, as nft prints them. */
  lines: string[];
  /** Map or set elements for the script (ignored by the layout comparison). */
  elements: string[];
}

export const nftFamily = (family: Family): "ip" | "ip6" => (family === 4 ? "ip" : "ip6");
export const liveMap = (proto: Proto): string => `fwd_${proto}`;
export const graceMap = (proto: Proto): string => `grace_${proto}`;
export const KEEP_SET = "grace_keep";
export const arrivalSet = (peer: number): string => `from_${peer}`;

/** Whether the spec wants the table of this family at all. */
export const wantsTable = (spec: NatSpec, family: Family): boolean =>
  family === 4 || spec.publicIPv6 !== undefined;

export function tableLayout(spec: NatSpec, now: number, family: Family = 4): LayoutBlock[] {
  const ip = nftFamily(family);
  const addr = family === 4 ? "ipv4_addr" : "ipv6_addr";
  const mapType = `type inet_service : ${addr} . inet_service`;
  const publicIp = family === 4 ? spec.publicIPv4 : spec.publicIPv6;
  const vmNetwork = family === 4 ? spec.vmNetwork : spec.vmNetwork6;
  const block = (kind: LayoutBlock["kind"], name: string, lines: string[], elements: string[] = []) => ({
    kind,
    name,
    lines,
    elements,
  });
  const blocks: LayoutBlock[] = [];
  for (const proto of PROTOS) {
    const mine = spec.forwards.filter((f) => f.proto === proto && familyOf(f) === family);
    const live = mine.filter((f) => f.graceUntil === undefined);
    const grace = mine.filter((f) => f.graceUntil !== undefined);
    blocks.push(
      block(
        "map",
        liveMap(proto),
        [mapType],
        live.map((f) => element(f, now)),
      ),
    );
    blocks.push(
      block(
        "map",
        graceMap(proto),
        [mapType, "flags timeout"],
        grace.map((f) => element(f, now)),
      ),
    );
  }
  const policy = family === 4 && spec.peers !== undefined;
  if (family === 4) blocks.push(block("set", KEEP_SET, [`type ${addr}`], spec.keepClient));
  for (const peer of policy ? (spec.peers ?? []) : []) {
    const ips = spec.arrivals.filter((a) => a.peer === peer.index).map((a) => a.ip);
    blocks.push(block("set", arrivalSet(peer.index), [`type ${addr}`], [...new Set(ips)].sort()));
  }

  const toPublic = `${ip} daddr ${publicIp}`;
  const dnat = PROTOS.map((p) => `${toPublic} dnat ${ip} to ${p} dport map @${liveMap(p)}`).concat(
    PROTOS.map(
      (p) =>
        `${toPublic} ${p} dport @${graceMap(p)} ct mark set ct mark | ${GRACE_MARK} dnat ${ip} to ${p} dport map @${graceMap(p)}`,
    ),
  );
  const onPublic = `"${spec.publicInterface}"`;
  blocks.push(
    block("chain", "prerouting", [
      "type nat hook prerouting priority dstnat; policy accept;",
      // Hairpin: a VM (or the mesh) asking for this node's public address.
      `iifname != ${onPublic} ${toPublic} ct mark set ct mark | ${HAIRPIN_MARK}`,
      ...dnat,
    ]),
    // Connections the node itself opens to its public address (nft prints
    // the output hook's dstnat priority as a number).
    block("chain", "output", ["type nat hook output priority -100; policy accept;", ...dnat]),
    block("chain", "postrouting", [
      "type nat hook postrouting priority srcnat; policy accept;",
      // The VMs' own outbound traffic leaves with the node's public address.
      ...(vmNetwork ? [`${ip} saddr ${vmNetwork} oifname ${onPublic} masquerade`] : []),
      `ct mark & ${HAIRPIN_MARK} != 0x00000000 masquerade`,
      family === 4
        ? `ct mark & ${GRACE_MARK} != 0x00000000 ${ip} daddr != @${KEEP_SET} masquerade`
        : `ct mark & ${GRACE_MARK} != 0x00000000 masquerade`,
    ]),
  );
  if (policy) {
    const mask = `0x${PEER_MARK_MASK.toString(16).padStart(8, "0")}`;
    blocks.push(
      block("chain", "mangle", [
        "type filter hook prerouting priority mangle; policy accept;",
        // Grace traffic an old node DNATed without masquerading: from the mesh,
        // with a client's (not a VM's) source, to a VM that arrived from it.
        ...(spec.peers ?? []).map(
          (p) =>
            `iifname != ${onPublic} ${ip} saddr != ${spec.vmNetwork} ${ip} daddr @${arrivalSet(p.index)} ct mark set ct mark | ${peerMark(p.index)}`,
        ),
        // The VM's replies carry the peer's number to routing (ip rule fwmark).
        `ct direction reply ct mark != 0x00000000/8 meta mark set ct mark & ${mask}`,
      ]),
    );
  }
  return blocks;
}

function element(f: NatForward, now: number): string {
  // Re-creating the table restarts nft's clock: give the REMAINING time.
  const timeout =
    f.graceUntil === undefined ? "" : ` timeout ${Math.max(1, Math.ceil(f.graceUntil - now))}ms`;
  return `${f.publicPort}${timeout} : ${f.target} . ${f.targetPort}`;
}

/**
 * The whole transaction for `nft -f -`: declaring then deleting a table makes
 * the delete succeed whether or not it existed, and nft applies the file
 * atomically, so there is no moment without forwards. A node without a public
 * IPv6 gets its ip6 table deleted. Other tables are never named.
 */
export function renderNftScript(spec: NatSpec, now: number): string {
  const out: string[] = [];
  for (const family of [4, 6] as const) {
    const head = `table ${nftFamily(family)} ${spec.table}`;
    out.push(head, `delete ${head}`);
    if (!wantsTable(spec, family)) continue;
    out.push(`${head} {`);
    for (const block of tableLayout(spec, now, family)) {
      out.push(`\t${block.kind} ${block.name} {`);
      for (const line of block.lines) out.push(`\t\t${line}`);
      if (block.elements.length > 0) out.push(`\t\telements = { ${block.elements.join(",\n\t\t\t     ")} }`);
      out.push("\t}");
    }
    out.push("}");
  }
  return `${out.join("\n")}\n`;
}

/** The layout as comparable strings: "map fwd_tcp: type ...". */
export function layoutLines(blocks: readonly LayoutBlock[]): string[] {
  return blocks.flatMap((b) => b.lines.map((l) => `${b.kind} ${b.name}: ${l}`));
}

/** Set elements as the read-back keys them: "ip grace_keep" -> sorted elements. */
export function setElements(spec: NatSpec, now: number): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const family of [4, 6] as const) {
    if (!wantsTable(spec, family)) continue;
    for (const b of tableLayout(spec, now, family))
      if (b.kind === "set") out[`${nftFamily(family)} ${b.name}`] = [...b.elements].sort();
  }
  return out;
}
