import { BlockList, isIPv4, isIPv6 } from "node:net";

// PURE: /etc/pve/corosync.conf, read the way Proxmox reads it (pve-cluster
// src/PVE/Corosync.pm `parse_conf`: comments dropped, whitespace-separated
// tokens, `name {` opens a section, `}` closes it, `key: value` pairs;
// `node` and `interface` may repeat), reduced to what doctor judges: every
// node's link addresses (`ringN_addr`/`linkN_addr`, Corosync.pm
// `$link_addr_re`) and votes, and the quorum section (`two_node`,
// `expected_votes`, and the QDevice `pvecm qdevice setup` adds as
// `quorum { device { model: net; votes: 1; net { algorithm: ffsplit; host: ... } } }`).

export interface CorosyncLink {
  /** The N of ringN_addr / linkN_addr. */
  link: number;
  /** An IP address or a host name, as written. */
  address: string;
}

export interface CorosyncNode {
  name: string;
  nodeid?: number;
  /** `quorum_votes`, 1 when absent (votequorum's default). */
  votes: number;
  links: CorosyncLink[];
}

export interface CorosyncDevice {
  model?: string;
  /** As written; absent means the model's default (see qdeviceVotes). */
  votes?: number;
  algorithm?: string;
  host?: string;
}

export interface CorosyncConf {
  clusterName?: string;
  nodes: CorosyncNode[];
  quorum: { provider?: string; twoNode: boolean; expectedVotes?: number; device?: CorosyncDevice };
}

type Section = { [key: string]: string | Section | Section[] };

/** Parse_conf's tokenizer and nesting; throws an Error naming the problem, as Proxmox's `die` does. */
function parseTree(raw: string): Section {
  const tokens = raw
    .replace(/#.*$/gm, "")
    .split(/\s+/)
    .filter((t) => t !== "");
  const main: Section = {};
  const stack: Section[] = [];
  let section = main;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    if (tokens[i + 1] === "{") {
      i++;
      const child: Section = {};
      const existing = section[token];
      if (token === "node" || token === "interface") {
        if (Array.isArray(existing)) existing.push(child);
        else section[token] = [child];
      } else if (existing === undefined) section[token] = child;
      else throw new Error(`section '${token}' already exists and is not a repeatable one`);
      stack.push(section);
      section = child;
      continue;
    }
    if (token === "}") {
      const parent = stack.pop();
      if (!parent) throw new Error("parse error: unexpected '}'");
      section = parent;
      continue;
    }
    if (!token.endsWith(":")) throw new Error(`missing ':' after key '${token}'`);
    const value = tokens[i + 1];
    if (value === undefined) throw new Error(`parse error: no value for '${token.slice(0, -1)}'`);
    section[token.slice(0, -1)] = value;
    i++;
  }
  if (stack.length > 0) throw new Error("parse error: a section is not closed");
  return main;
}

const sectionOf = (v: Section[string] | undefined): Section | undefined =>
  v !== undefined && typeof v === "object" && !Array.isArray(v) ? v : undefined;
const stringOf = (v: Section[string] | undefined): string | undefined =>
  typeof v === "string" ? v : undefined;
function intOf(v: Section[string] | undefined): number | undefined {
  const s = stringOf(v);
  return s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined;
}

const LINK_KEY = /^(ring|link)(\d+)_addr$/;

export function parseCorosyncConf(text: string): CorosyncConf {
  const main = parseTree(text);
  const nodelist = sectionOf(main.nodelist);
  const rawNodes = nodelist?.node;
  const nodes: CorosyncNode[] = (Array.isArray(rawNodes) ? rawNodes : []).map((n) => {
    const links: CorosyncLink[] = [];
    for (const [key, value] of Object.entries(n)) {
      const m = LINK_KEY.exec(key);
      if (m && typeof value === "string") links.push({ link: Number(m[2]), address: value });
    }
    links.sort((a, b) => a.link - b.link);
    const nodeid = intOf(n.nodeid);
    // Corosync.pm keys the nodelist by `name`, else by ring0_addr.
    const name = stringOf(n.name) ?? stringOf(n.ring0_addr) ?? "?";
    return { name, ...(nodeid !== undefined ? { nodeid } : {}), votes: intOf(n.quorum_votes) ?? 1, links };
  });
  const quorum = sectionOf(main.quorum) ?? {};
  const device = sectionOf(quorum.device);
  const model = stringOf(device?.model);
  const modelSection = model ? sectionOf(device?.[model]) : undefined;
  const provider = stringOf(quorum.provider);
  const expectedVotes = intOf(quorum.expected_votes);
  const clusterName = stringOf(sectionOf(main.totem)?.cluster_name);
  return {
    ...(clusterName ? { clusterName } : {}),
    nodes,
    quorum: {
      ...(provider ? { provider } : {}),
      twoNode: stringOf(quorum.two_node) === "1",
      ...(expectedVotes !== undefined ? { expectedVotes } : {}),
      ...(device
        ? {
            device: {
              ...(model ? { model } : {}),
              ...(intOf(device.votes) !== undefined ? { votes: intOf(device.votes) } : {}),
              ...(stringOf(modelSection?.algorithm) ? { algorithm: stringOf(modelSection?.algorithm) } : {}),
              ...(stringOf(modelSection?.host) ? { host: stringOf(modelSection?.host) } : {}),
            },
          }
        : {}),
    },
  };
}

/** Where an address is: only "private" ones belong on corosync links of nodes in different datacenters. */
export type AddressScope = "private" | "loopback" | "public" | "hostname";

const PRIVATE = new BlockList();
// RFC 1918, RFC 6598 shared space (100.64/10, used by mesh VPNs), link-local;
// IPv6 unique local (fc00::/7) and link-local.
for (const [net, bits] of [
  ["10.0.0.0", 8],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
  ["100.64.0.0", 10],
  ["169.254.0.0", 16],
] as const)
  PRIVATE.addSubnet(net, bits, "ipv4");
PRIVATE.addSubnet("fc00::", 7, "ipv6");
PRIVATE.addSubnet("fe80::", 10, "ipv6");
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

export function addressScope(address: string): AddressScope {
  const family = isIPv4(address) ? "ipv4" : isIPv6(address) ? "ipv6" : undefined;
  if (!family) return "hostname";
  if (LOOPBACK.check(address, family)) return "loopback";
  return PRIVATE.check(address, family) ? "private" : "public";
}

/**
 * Votes a QDevice adds when `votes` is not written: 1 for ffsplit (the only
 * value it accepts; pvecm writes it), nodes - 1 for lms (corosync-qdevice(8)).
 */
export function qdeviceVotes(device: CorosyncDevice, nodeCount: number): number {
  if (device.votes !== undefined) return device.votes;
  return device.algorithm === "lms" ? Math.max(1, nodeCount - 1) : 1;
}
