import { canonicalIPv6 } from "../cluster/ip.ts";
import { InputError } from "../errors.ts";

// The one gate every value passes before it is written into an nft script, an
// HAProxy map, an nginx map or an admin-socket command. Both node backends
// (lib/nat, lib/proxy) call these, so hostile input ("a.example; reload", a
// newline, spaces) is refused the same way everywhere, with a one-line error
// naming the field, before anything is applied. Pure: no I/O.

/** Linux IFNAMSIZ is 16 including the NUL. */
const IFNAME_MAX = 15;

function fail(field: string, message: string, value: unknown): never {
  // JSON.stringify shows control characters (a newline) escaped, so the error stays one line.
  throw new InputError(`${field}: ${message} (got ${JSON.stringify(value) ?? String(value)})`);
}

/** A network interface name as the kernel accepts it and nft can quote it safely. */
export function checkInterfaceName(field: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0)
    fail(field, "must be a non-empty interface name", value);
  if (value.length > IFNAME_MAX) fail(field, `interface name longer than ${IFNAME_MAX} characters`, value);
  if (value === "." || value === "..") fail(field, "not a valid interface name", value);
  // Stricter than the kernel (which only forbids '/', ':' and whitespace): a
  // name that survives this needs no escaping inside nft's double quotes.
  if (!/^[A-Za-z0-9_.@+-]+$/.test(value))
    fail(field, "interface name may only contain A-Z a-z 0-9 _ . @ + -", value);
  return value;
}

export function checkPort(field: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 65535) {
    fail(field, "must be a port number 1-65535", value);
  }
  return value;
}

/** Dotted-quad IPv4 without leading zeros (which some parsers read as octal). */
export function checkIPv4(field: string, value: unknown): string {
  if (typeof value !== "string") fail(field, "must be an IPv4 address", value);
  const parts = value.split(".");
  const ok = parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
  if (!ok) fail(field, "must be an IPv4 address like 10.10.1.101", value);
  return value;
}

/** IPv4 network in CIDR notation; the address must be the network address. */
export function checkIPv4Cidr(field: string, value: unknown): string {
  if (typeof value !== "string") fail(field, "must be an IPv4 network like 10.10.0.0/16", value);
  const [addr, len, extra] = value.split("/");
  if (addr === undefined || len === undefined || extra !== undefined || !/^(0|[1-9][0-9]?)$/.test(len)) {
    fail(field, "must be an IPv4 network like 10.10.0.0/16", value);
  }
  checkIPv4(field, addr);
  const bits = Number(len);
  if (bits > 32) fail(field, "prefix length must be 0-32", value);
  const n = ipv4ToInt(addr);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  if ((n & mask) >>> 0 !== n) fail(field, "has host bits set (use the network address)", value);
  return value;
}

/**
 * An IPv6 address (no zone), returned in canonical RFC 5952 text: nft prints
 * addresses so, and the read-back is compared as text.
 */
export function checkIPv6(field: string, value: unknown): string {
  const canonical = typeof value === "string" ? canonicalIPv6(value) : undefined;
  if (canonical === undefined) fail(field, "must be an IPv6 address like fd10:10::101", value);
  return canonical;
}

/** IPv6 network in CIDR notation, canonical; the address must be the network address. */
export function checkIPv6Cidr(field: string, value: unknown): string {
  const [addr, len, extra] = typeof value === "string" ? value.split("/") : [];
  const canonical = addr === undefined ? undefined : canonicalIPv6(addr);
  if (canonical === undefined || extra !== undefined || !/^(0|[1-9][0-9]{0,2})$/.test(len ?? "")) {
    fail(field, "must be an IPv6 network like fd10:10::/48", value);
  }
  const bits = Number(len);
  if (bits > 128) fail(field, "prefix length must be 0-128", value);
  const n = BigInt(`0x${expandIPv6(canonical)}`);
  const host = (1n << BigInt(128 - bits)) - 1n;
  if ((n & host) !== 0n) fail(field, "has host bits set (use the network address)", value);
  return `${canonical}/${bits}`;
}

/** 32 hex digits of a canonical IPv6 address. */
function expandIPv6(canonical: string): string {
  const [head = "", tail] = canonical.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return groups.map((g) => g.padStart(4, "0")).join("");
}

export function ipv4ToInt(addr: string): number {
  return addr.split(".").reduce((acc, p) => ((acc << 8) | Number(p)) >>> 0, 0);
}

/**
 * A host name used as a map key (SNI or Host): lower-case LDH labels, no
 * trailing dot, total length <= 253. Nothing else can reach
 * a map file line or an admin-socket command (where space, ';' and newline
 * are separators).
 */
export function checkHostName(field: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0) fail(field, "must be a host name", value);
  if (value.length > 253) fail(field, "host name longer than 253 characters", value);
  if (value !== value.toLowerCase()) fail(field, "host name must be lower case", value);
  for (const label of value.split(".")) {
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label)) {
      fail(field, "host name labels may only hold a-z 0-9 and inner '-', 1-63 characters", value);
    }
  }
  return value;
}

/** nft table / map names: identifiers nft accepts without quoting. */
export function checkNftName(field: string, value: unknown): string {
  if (typeof value !== "string" || !/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(value)) {
    fail(field, "must start with a letter and hold only A-Z a-z 0-9 _ (at most 32 characters)", value);
  }
  return value;
}

/** An absolute filesystem path that is safe in a config line and a socket command. */
export function checkPath(field: string, value: unknown): string {
  if (typeof value !== "string" || !value.startsWith("/")) fail(field, "must be an absolute path", value);
  if (!/^[A-Za-z0-9_./@+-]+$/.test(value) || value.split("/").includes("..")) {
    fail(field, "path may only contain A-Z a-z 0-9 _ . / @ + - (no '..')", value);
  }
  return value;
}
