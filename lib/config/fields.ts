import { isIPv4, isIPv6 } from "node:net";
import { z } from "zod";
import { canonicalIPv6 } from "../cluster/ip.ts";
import type { Ip6Source, IpSource } from "./types.ts";
import { ipv4Mapped, type Parsed, parseDurationMs, parseHostname, parseIPv4 } from "./values.ts";

// The value-level schemas the config file's sections are built from: host
// names, addresses, ports, durations with bounds, endpoints and TLS names.
// Each turns a string (or number) into a typed value or one clear message.

export function via<T>(parse: (text: string) => Parsed<T>) {
  return z.string().transform((text, ctx) => {
    const r = parse(text);
    if (r.ok) return r.value;
    ctx.addIssue({ code: "custom", message: r.message });
    return z.NEVER;
  });
}

/** Upper bound of a duration field, in the field's unit, with how an admin would say it. */
interface Max {
  value: number;
  words: string;
}

/**
 * A duration in the field's unit (ms or s), from `min` to `max` of that unit.
 * The maximum keeps every timer valid (setTimeout takes at most 2^31-1 ms,
 * about 24.8 days; a larger delay fires at once) and every nft element
 * timeout a sane number.
 */
export function duration(numberUnitMs: number, outUnitMs: 1 | 1000, max: Max, min = 0) {
  const unit = outUnitMs === 1 ? "ms" : "s";
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const r = parseDurationMs(value, numberUnitMs);
    if (!r.ok) {
      ctx.addIssue({ code: "custom", message: r.message });
      return z.NEVER;
    }
    const out = Math.round(r.value / outUnitMs);
    // "100ms" for a seconds field would silently become 0 (off), not a short wait.
    const tooShort = r.value > 0 && out === 0 ? "a second" : out < min ? `${min}${unit}` : undefined;
    if (tooShort !== undefined) {
      ctx.addIssue({ code: "custom", message: `${value} is less than ${tooShort}` });
      return z.NEVER;
    }
    if (out > max.value) {
      ctx.addIssue({ code: "custom", message: `${value} is more than ${max.words} (${max.value}${unit})` });
      return z.NEVER;
    }
    return out;
  });
}

// Below this a DNS or API attempt cannot even complete a round trip to a busy
// peer: every attempt would time out.
export const MIN_TIMEOUT_MS = 50;
// Above these a peer is not slow but gone; waiting longer only holds up a VM start.
export const MAX_ATTEMPT_MS: Max = { value: 60_000, words: "a minute" };
export const MAX_TOTAL_MS: Max = { value: 600_000, words: "10 minutes" };
// Grace forwarding and the migration watch: a day covers any cached DNS
// answer (dns.ttl is at most a day) and any live migration.
export const MAX_DAY_S: Max = { value: 86_400, words: "a day" };

export const hostname = via(parseHostname);
export const ipv4 = via(parseIPv4);
export const port = z
  .number()
  .int("must be a whole number")
  .min(1, "must be 1-65535")
  .max(65535, "must be 1-65535");
export const path = z.string().min(1, "must not be empty");

// Linux IFNAMSIZ is 16 with the NUL; nft and ip reject anything else.
export const ifname = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,15}$/, "must be an interface name of 1-15 letters, digits, '_', '.', '-'");

export const ipSource = z.string().transform((text, ctx): IpSource => {
  if (text === "agent" || text === "dnsmasq" || text === "mac") return { kind: text };
  const r = parseIPv4(text);
  if (r.ok) return { kind: "static", address: r.value };
  ctx.addIssue({ code: "custom", message: `"${text}" is not an IPv4 address, "agent", "dnsmasq" or "mac"` });
  return z.NEVER;
});

// IPv6 of a VM (what the node's public IPv6 DNATs to): a fixed address, or
// the guest agent's first address inside vmNetwork6. Unset: no IPv6 forwards
// and no AAAA for the VM's names.
export const ip6Source = z.string().transform((text, ctx): Ip6Source => {
  if (text === "agent") return { kind: "agent" };
  const v4 = ipv4Mapped(text);
  if (v4) {
    ctx.addIssue({
      code: "custom",
      message: `"${text}" is the IPv4 address ${v4} written as IPv6 (IPv4-mapped)`,
    });
    return z.NEVER;
  }
  // Canonical text: nft prints it so, and the read-back compares strings.
  const address = canonicalIPv6(text);
  if (address) return { kind: "static", address };
  ctx.addIssue({ code: "custom", message: `"${text}" is not an IPv6 address or "agent"` });
  return z.NEVER;
});

export const cidr6 = z.string().refine((text) => {
  const [addr = "", len, extra] = text.split("/");
  return isIPv6(addr) && extra === undefined && /^\d{1,3}$/.test(len ?? "") && Number(len) <= 128;
}, "must be an IPv6 network like fd10:10::/48");

export const tokenId = z
  .string()
  .regex(/^[^\s@!]+@[^\s@!]+![A-Za-z][A-Za-z0-9._-]*$/, 'must look like "user@realm!tokenname"');

export const fingerprint = z
  .string()
  .regex(/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/, "must be a SHA-256 fingerprint like AA:BB:...(32 bytes)");

const url = z.string().refine((text) => {
  try {
    const u = new URL(text);
    return u.protocol === "https:" || u.protocol === "http:";
  } catch {
    return false;
  }
}, "must be a URL like https://127.0.0.1:8006");

// The API token goes in a request header: over plain http only when the
// request never leaves the machine.
const isLoopback = (host: string) =>
  host === "localhost" || host === "[::1]" || (isIPv4(host) && host.startsWith("127."));

export const endpoint = url.superRefine((text, ctx) => {
  const u = URL.canParse(text) ? new URL(text) : undefined; // Node 20 has no URL.parse
  if (u?.protocol === "http:" && !isLoopback(u.hostname)) {
    ctx.addIssue({
      code: "custom",
      message: `${text} would send the API token in clear text: use https:// (http:// only for 127.0.0.0/8, ::1, localhost)`,
    });
  }
});

// TLS trust (docs/PERMISSIONS.md "Which certificate check"): caFile is a CA file
// or "system" (the OS's CAs, for a custom or ACME certificate on pveproxy);
// serverName is the name the certificate must carry ("{node}" = this node).
export const serverName = z.string().refine((text) => parseHostname(text.replaceAll("{node}", "node")).ok, {
  error: (issue) =>
    `${JSON.stringify(issue.input)} is not a host name (letters, digits, hyphens; "{node}" allowed)`,
});
