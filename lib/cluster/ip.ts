import { isIP } from "node:net";
import { untrusted } from "../text/untrusted.ts";

// PURE: choosing a VM's private address from what the guest agent, the dnsmasq
// leases file or the neighbour table report. No I/O here; discover.ts fetches.

export interface Cidr {
  family: 4 | 6;
  network: bigint;
  prefix: number;
}

function ipToBigInt(addr: string): { family: 4 | 6; value: bigint } | undefined {
  const bare = addr.replace(/%.*$/, "");
  const fam = isIP(bare);
  if (fam === 4) {
    const value = bare.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
    return { family: 4, value };
  }
  if (fam === 6) {
    let text = bare;
    // An embedded IPv4 tail (::ffff:10.0.0.1) becomes two hex groups.
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (v4) {
      const n = ipToBigInt(v4[1]!)!.value;
      text = text.replace(v4[1]!, `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`);
    }
    const [head, tail] = text.split("::") as [string, string | undefined];
    const h = head ? head.split(":") : [];
    const t = tail ? tail.split(":") : [];
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
    const value = groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g || "0", 16)), 0n);
    return { family: 6, value };
  }
  return undefined;
}

export function parseCidr(cidr: string): Cidr | undefined {
  const [addr, len] = cidr.split("/");
  const ip = ipToBigInt(addr ?? "");
  if (!ip) return undefined;
  const bits = ip.family === 4 ? 32 : 128;
  const prefix = len === undefined ? bits : Number(len);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) return undefined;
  const mask = ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
  return { family: ip.family, network: ip.value & mask, prefix };
}

export function inCidr(addr: string, cidr: Cidr): boolean {
  const ip = ipToBigInt(addr);
  if (!ip || ip.family !== cidr.family) return false;
  const bits = cidr.family === 4 ? 32 : 128;
  const mask = ((1n << BigInt(cidr.prefix)) - 1n) << BigInt(bits - cidr.prefix);
  return (ip.value & mask) === cidr.network;
}

/** Loopback and link-local addresses never identify a VM on the VM network. */
export function isLoopbackOrLinkLocal(addr: string): boolean {
  const ip = ipToBigInt(addr);
  if (!ip) return true;
  if (ip.family === 4) return ip.value >> 24n === 127n || ip.value >> 16n === 0xa9fen; // 127/8, 169.254/16
  return ip.value === 1n || ip.value >> 118n === 0x3fan; // ::1, fe80::/10
}

/** The guest agent's network-get-interfaces result, as much of it as we read. */
export interface AgentInterface {
  name: string;
  "hardware-address"?: string;
  "ip-addresses"?: Array<{ "ip-address": string; "ip-address-type"?: string; prefix?: number }>;
}

export type AddressPick = { ok: true; address: string; source: string } | { ok: false; reason: string };

/**
 * The first address (in the agent's interface order) inside the VM network,
 * skipping loopback and link-local ones; docker0 and friends fall out because
 * they are outside the VM network.
 */
export function pickAgentAddress(interfaces: readonly AgentInterface[], vmNetwork: string): AddressPick {
  const cidr = parseCidr(vmNetwork);
  if (!cidr) return { ok: false, reason: `vmNetwork ${JSON.stringify(vmNetwork)} is not a CIDR` };
  const seen: string[] = [];
  for (const iface of interfaces) {
    for (const a of iface["ip-addresses"] ?? []) {
      const addr = a["ip-address"];
      seen.push(`${iface.name} ${addr}`);
      if (isLoopbackOrLinkLocal(addr)) continue;
      if (inCidr(addr, cidr)) return { ok: true, address: addr.replace(/%.*$/, ""), source: iface.name };
    }
  }
  return {
    ok: false,
    // Interface names and addresses are the guest's own words.
    reason: `the guest agent reports no address in ${vmNetwork} (saw: ${untrusted(seen.join(", ")) || "no addresses"})`,
  };
}

/** MAC addresses (lower case) of a guest's netN entries, in N order. qemu: "virtio=MAC,..."; lxc: "hwaddr=MAC". */
export function guestMacs(config: Readonly<Record<string, string>>): string[] {
  const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
  return Object.keys(config)
    .filter((k) => /^net\d+$/.test(k))
    .sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)))
    .flatMap((k) => {
      for (const part of (config[k] ?? "").split(",")) {
        const [key, value] = part.split("=");
        // qemu: the model key carries the MAC (virtio=, e1000=, ...); lxc: hwaddr=.
        if (key && value && MAC.test(value)) return [value.toLowerCase()];
      }
      return [];
    });
}

export interface Lease {
  expiry: number;
  mac: string;
  ip: string;
  hostname: string;
}

/** dnsmasq leases: "expiry mac ip hostname clientid" per line; DHCPv6 lines ("duid ..." and IAID lines) are skipped. */
export function parseLeases(text: string): Lease[] {
  const leases: Lease[] = [];
  for (const line of text.split("\n")) {
    const [expiry, mac, ip, hostname] = line.trim().split(/\s+/);
    if (!expiry || !mac || !ip || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) continue;
    leases.push({ expiry: Number(expiry), mac: mac.toLowerCase(), ip, hostname: hostname ?? "*" });
  }
  return leases;
}

/** The newest lease of one of the guest's MACs inside the VM network. */
export function pickLease(leases: readonly Lease[], macs: readonly string[], vmNetwork: string): AddressPick {
  const cidr = parseCidr(vmNetwork);
  if (!cidr) return { ok: false, reason: `vmNetwork ${JSON.stringify(vmNetwork)} is not a CIDR` };
  if (macs.length === 0) return { ok: false, reason: "the guest config has no netN with a MAC address" };
  const wanted = new Set(macs.map((m) => m.toLowerCase()));
  const hits = leases
    .filter((l) => wanted.has(l.mac) && inCidr(l.ip, cidr))
    // expiry 0 means an infinite lease: newest of all.
    .sort((a, b) => (b.expiry || Number.MAX_SAFE_INTEGER) - (a.expiry || Number.MAX_SAFE_INTEGER));
  const best = hits[0];
  if (best) return { ok: true, address: best.ip, source: best.mac };
  return { ok: false, reason: `no lease in ${vmNetwork} for MAC ${macs.join(", ")}` };
}

/** `ip -j neigh show` entries. */
export interface Neighbour {
  dst: string;
  lladdr?: string;
  state?: string[];
}

export function pickNeighbour(
  neigh: readonly Neighbour[],
  macs: readonly string[],
  vmNetwork: string,
): AddressPick {
  const cidr = parseCidr(vmNetwork);
  if (!cidr) return { ok: false, reason: `vmNetwork ${JSON.stringify(vmNetwork)} is not a CIDR` };
  if (macs.length === 0) return { ok: false, reason: "the guest config has no netN with a MAC address" };
  const wanted = new Set(macs.map((m) => m.toLowerCase()));
  const hit = neigh.find(
    (n) =>
      n.lladdr &&
      wanted.has(n.lladdr.toLowerCase()) &&
      !n.state?.includes("FAILED") &&
      !isLoopbackOrLinkLocal(n.dst) &&
      inCidr(n.dst, cidr),
  );
  if (hit) return { ok: true, address: hit.dst, source: hit.lladdr! };
  return { ok: false, reason: `no neighbour entry in ${vmNetwork} for MAC ${macs.join(", ")}` };
}

/**
 * An IPv6 address in RFC 5952 text (lower case, longest zero run as "::"),
 * the form nft and the DNS code print, so addresses compare as strings;
 * undefined for anything that is not an IPv6 address (or carries a zone).
 */
export function canonicalIPv6(addr: string): string | undefined {
  if (addr.includes("%")) return undefined;
  const ip = ipToBigInt(addr);
  if (ip?.family !== 6) return undefined;
  const groups = Array.from({ length: 8 }, (_, i) => Number((ip.value >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.len < 2) return hex.join(":");
  return `${hex.slice(0, best.at).join(":")}::${hex.slice(best.at + best.len).join(":")}`;
}

/** The guest agent's first IPv6 inside vmNetwork6 (a ULA, say), in canonical form. */
export function pickAgentAddress6(interfaces: readonly AgentInterface[], vmNetwork6: string): AddressPick {
  const cidr = parseCidr(vmNetwork6);
  if (cidr?.family !== 6)
    return { ok: false, reason: `vmNetwork6 ${JSON.stringify(vmNetwork6)} is not an IPv6 CIDR` };
  const pick = pickAgentAddress(interfaces, vmNetwork6);
  if (!pick.ok) return pick;
  const address = canonicalIPv6(pick.address);
  return address ? { ...pick, address } : { ok: false, reason: `${pick.address} is not an IPv6 address` };
}
