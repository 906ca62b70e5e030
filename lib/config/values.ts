import { isIPv4, isIPv6 } from "node:net";
import type { DnsMaster, Forward, PortRange, Route } from "./types.ts";

// Parsers for the small string formats of the config. Each returns the parsed
// value or a message (without the field path: the caller knows the path).

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(message: string): Parsed<T> => ({ ok: false, message });

/**
 * A Proxmox VM id as text: 100-999999999, no leading zero (pve-common
 * PVE/JSONSchema.pm pve_verify_vmid `^[1-9][0-9]{2,8}$` and the pve-vmid
 * option's bounds). Config keys, hook arguments and CLI arguments all use it.
 */
export const VMID_PATTERN = /^[1-9]\d{2,8}$/;

export function isVmidText(text: string): boolean {
  return VMID_PATTERN.test(text);
}

export function parsePort(text: string): Parsed<number> {
  if (!/^\d{1,6}$/.test(text)) return fail(`"${text}" is not a port number`);
  const port = Number(text);
  if (port < 1 || port > 65535) return fail(`port ${port} is out of range 1-65535`);
  return ok(port);
}

/** "tcp/25", "tcp/2222:22", "udp/51820": public port, optionally a different private port. */
export function parseForward(text: string): Parsed<Forward> {
  const m = /^(tcp|udp)\/([^:]*)(?::(.*))?$/.exec(text);
  if (!m) return fail(`"${text}" is not proto/public[:private] (proto tcp or udp)`);
  const pub = parsePort(m[2] ?? "");
  if (!pub.ok) return pub;
  const priv = m[3] === undefined ? pub : parsePort(m[3]);
  if (!priv.ok) return priv;
  return ok({ proto: m[1] as "tcp" | "udp", publicPort: pub.value, privatePort: priv.value });
}

/** "tcp/22" or "udp/5405-5412": a port or an inclusive range of one protocol. */
export function parsePortRange(text: string): Parsed<PortRange> {
  const m = /^(tcp|udp)\/(\d+)(?:-(\d+))?$/.exec(text);
  if (!m) return fail(`"${text}" is not proto/port or proto/low-high (proto tcp or udp)`);
  const from = parsePort(m[2] ?? "");
  if (!from.ok) return from;
  const to = m[3] === undefined ? from : parsePort(m[3]);
  if (!to.ok) return to;
  if (to.value < from.value) return fail(`"${text}": ${to.value} is below ${from.value}`);
  return ok({ proto: m[1] as "tcp" | "udp", from: from.value, to: to.value });
}

/**
 * LDH host name (RFC 952/1123): labels of letters, digits and inner hyphens,
 * 1-63 characters each, 253 in all. A trailing dot is accepted and dropped.
 * Returns the lower-cased name.
 */
export function parseHostname(text: string): Parsed<string> {
  const name = text.endsWith(".") ? text.slice(0, -1) : text;
  if (name.length === 0) return fail("empty host name");
  if (name.length > 253) return fail(`host name "${text.slice(0, 40)}..." is longer than 253 characters`);
  for (const label of name.split(".")) {
    if (label.length === 0) return fail(`"${text}" has an empty label`);
    if (label.length > 63) return fail(`"${text}" has a label longer than 63 characters`);
    if (!/^[A-Za-z0-9-]+$/.test(label))
      return fail(`"${text}" is not a valid host name (letters, digits, hyphens)`);
    if (label.startsWith("-") || label.endsWith("-"))
      return fail(`"${text}" has a label that starts or ends with a hyphen`);
  }
  return ok(name.toLowerCase());
}

/** "name" or "name:port" for an SNI/HTTP route; the default port is the protocol's. */
export function parseRoute(text: string, defaultPort: number): Parsed<Route> {
  const idx = text.lastIndexOf(":");
  const host = idx === -1 ? text : text.slice(0, idx);
  const name = parseHostname(host);
  if (!name.ok) return name;
  if (idx === -1) return ok({ name: name.value, port: defaultPort });
  const port = parsePort(text.slice(idx + 1));
  if (!port.ok) return port;
  return ok({ name: name.value, port: port.value });
}

/**
 * net.isIPv6, asked only when the text has a ":" (every IPv6 address has
 * one): the first isIPv6 call compiles Node's IPv6 pattern, ~5 ms of a
 * `dns set` that only ever sees IPv4 (issue 16, floor 2).
 */
export function isIPv6Text(text: string): boolean {
  return text.includes(":") && isIPv6(text);
}

export function parseIPv4(text: string): Parsed<string> {
  return isIPv4(text) ? ok(text) : fail(`"${text}" is not an IPv4 address`);
}

/**
 * The IPv4 address an IPv4-mapped IPv6 address (RFC 4291 2.5.5.2,
 * `::ffff:a.b.c.d`, in any spelling) stands for; undefined for anything else.
 * Such an address is an IPv4 host: as an AAAA record it would replace the
 * name's A record with an address no IPv6 client can reach.
 */
export function ipv4Mapped(text: string): string | undefined {
  if (!isIPv6Text(text) || text.includes("%")) return undefined;
  // URL prints an IPv6 host in its canonical form: "::ffff:1.2.3.4" -> "[::ffff:102:304]".
  const m = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(new URL(`http://[${text}]`).hostname);
  if (!m) return undefined;
  const [high, low] = [Number.parseInt(m[1] ?? "", 16), Number.parseInt(m[2] ?? "", 16)];
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join(".");
}

export function parseIPv6(text: string): Parsed<string> {
  if (!isIPv6(text)) return fail(`"${text}" is not an IPv6 address`);
  const v4 = ipv4Mapped(text);
  if (v4)
    return fail(`"${text}" is the IPv4 address ${v4} written as IPv6 (IPv4-mapped), not an IPv6 address`);
  return ok(text);
}

/**
 * Where ssh reaches a node: a host name (LDH) or an IPv4/IPv6 literal,
 * nothing else. The value becomes ssh's destination argument, so a leading
 * "-" (an option such as -oProxyCommand), "@", spaces or shell syntax must
 * never get through; IPv6 scope ids ("%eth0") are refused as well.
 */
export function parseSshHost(text: string): Parsed<string> {
  if (isIPv4(text) || (isIPv6(text) && /^[0-9A-Fa-f:.]+$/.test(text))) return ok(text);
  const name = parseHostname(text);
  if (name.ok && !/^[\d.]+$/.test(text)) return name;
  return fail(`"${text}" is not a host name or an IPv4/IPv6 address`);
}

export function parseCidr4(text: string): Parsed<string> {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!m || !isIPv4(m[1] ?? "") || Number(m[2]) > 32)
    return fail(`"${text}" is not an IPv4 CIDR like 10.10.0.0/16`);
  return ok(text);
}

/** "10.10.3.53", "10.10.1.53:5353", "[fd00::53]:5353", "fd00::53", "ns1.example.org". */
export function parseMaster(text: string): Parsed<DnsMaster> {
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    const host = bracketed[1] ?? "";
    if (!isIPv6(host)) return fail(`"${text}": "${host}" is not an IPv6 address`);
    if (bracketed[2] === undefined) return ok({ host, port: 53 });
    const port = parsePort(bracketed[2]);
    return port.ok ? ok({ host, port: port.value }) : port;
  }
  if (isIPv6(text)) return ok({ host: text, port: 53 });
  const parts = text.split(":");
  if (parts.length > 2) return fail(`"${text}": write an IPv6 master with a port as [address]:port`);
  const host = parts[0] ?? "";
  if (!isIPv4(host)) {
    const name = parseHostname(host);
    if (!name.ok || /^[\d.]+$/.test(host)) return fail(`"${text}" is not host or host:port`);
  }
  if (parts[1] === undefined) return ok({ host, port: 53 });
  const port = parsePort(parts[1]);
  return port.ok ? ok({ host, port: port.value }) : port;
}

/** A master as parseMaster reads it back: "host:port", "[v6]:port". Used in every message that names one. */
export function masterLabel(m: DnsMaster): string {
  return m.host.includes(":") ? `[${m.host}]:${m.port}` : `${m.host}:${m.port}`;
}

/**
 * A word ssh can hand to the remote shell unquoted: ssh joins the remote
 * argv with spaces, so anything else (spaces, quotes, $, ;) would be
 * interpreted there.
 */
export const PLAIN_WORD = /^[\w./:-]+$/;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A duration as a number (in the field's own unit) or a string with a unit:
 * "700ms", "120s", "2m", "1h". Returns milliseconds.
 */
export function parseDurationMs(value: unknown, numberUnitMs: number): Parsed<number> {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) return fail(`${value} is not a non-negative duration`);
    return ok(Math.round(value * numberUnitMs));
  }
  if (typeof value === "string") {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value.trim());
    if (m) return ok(Math.round(Number(m[1]) * (UNIT_MS[m[2] ?? "s"] ?? 1000)));
  }
  return fail(`${JSON.stringify(value)} is not a duration (a number, or like "700ms", "120s", "2m", "1h")`);
}

/** True when `name` is the zone apex or below it. */
export function inZone(name: string, zone: string): boolean {
  return name === zone || name.endsWith(`.${zone}`);
}

/** Is an IPv4 address inside an IPv4 CIDR? */
export function ipv4InCidr(address: string, cidr: string): boolean {
  const [net, bits] = cidr.split("/");
  const toInt = (ip: string) => ip.split(".").reduce((acc, octet) => (acc << 8) + Number(octet), 0) >>> 0;
  const prefix = Number(bits);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return (toInt(address) & mask) >>> 0 === (toInt(net ?? "") & mask) >>> 0;
}
