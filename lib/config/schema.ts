import { isIPv4, isIPv6 } from "node:net";
import { z } from "zod";
import { canonicalIPv6 } from "../cluster/ip.ts";
import { DEFAULT_RESERVED_PORTS } from "./reserved.ts";
import type { Ip6Source, IpSource } from "./types.ts";
import {
  ipv4Mapped,
  type Parsed,
  PLAIN_WORD,
  parseCidr4,
  parseDurationMs,
  parseForward,
  parseHostname,
  parseIPv4,
  parseIPv6,
  parseMaster,
  parsePortRange,
  parseRoute,
  parseSshHost,
} from "./values.ts";

// The shape of the config file, with defaults. Field names follow the
// documented contract in DESIGN.md; fields are added, never renamed. Objects
// are strict so a typo ("publicIpv4") is reported instead of silently ignored.

function via<T>(parse: (text: string) => Parsed<T>) {
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
function duration(numberUnitMs: number, outUnitMs: 1 | 1000, max: Max, min = 0) {
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
const MIN_TIMEOUT_MS = 50;
// Above these a peer is not slow but gone; waiting longer only holds up a VM start.
const MAX_ATTEMPT_MS: Max = { value: 60_000, words: "a minute" };
const MAX_TOTAL_MS: Max = { value: 600_000, words: "10 minutes" };
// Grace forwarding and the migration watch: a day covers any cached DNS
// answer (dns.ttl is at most a day) and any live migration.
const MAX_DAY_S: Max = { value: 86_400, words: "a day" };

const hostname = via(parseHostname);
const ipv4 = via(parseIPv4);
const port = z.number().int("must be a whole number").min(1, "must be 1-65535").max(65535, "must be 1-65535");
const path = z.string().min(1, "must not be empty");

// Linux IFNAMSIZ is 16 with the NUL; nft and ip reject anything else.
const ifname = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,15}$/, "must be an interface name of 1-15 letters, digits, '_', '.', '-'");

const ipSource = z.string().transform((text, ctx): IpSource => {
  if (text === "agent" || text === "dnsmasq" || text === "mac") return { kind: text };
  const r = parseIPv4(text);
  if (r.ok) return { kind: "static", address: r.value };
  ctx.addIssue({ code: "custom", message: `"${text}" is not an IPv4 address, "agent", "dnsmasq" or "mac"` });
  return z.NEVER;
});

// IPv6 of a VM (what the node's public IPv6 DNATs to): a fixed address, or
// the guest agent's first address inside vmNetwork6. Unset: no IPv6 forwards
// and no AAAA for the VM's names.
const ip6Source = z.string().transform((text, ctx): Ip6Source => {
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

const cidr6 = z.string().refine((text) => {
  const [addr = "", len, extra] = text.split("/");
  return isIPv6(addr) && extra === undefined && /^\d{1,3}$/.test(len ?? "") && Number(len) <= 128;
}, "must be an IPv6 network like fd10:10::/48");

const tokenId = z
  .string()
  .regex(/^[^\s@!]+@[^\s@!]+![A-Za-z][A-Za-z0-9._-]*$/, 'must look like "user@realm!tokenname"');

const fingerprint = z
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

const endpoint = url.superRefine((text, ctx) => {
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
const serverName = z.string().refine((text) => parseHostname(text.replaceAll("{node}", "node")).ok, {
  error: (issue) =>
    `${JSON.stringify(issue.input)} is not a host name (letters, digits, hyphens; "{node}" allowed)`,
});

const proxmox = z
  .strictObject({
    endpoints: z.array(endpoint).min(1, "needs at least one endpoint").default(["https://127.0.0.1:8006"]),
    tokenId,
    tokenSecretFile: path,
    caFile: path.optional(),
    fingerprint: fingerprint.optional(),
    serverName: serverName.optional(),
    connectTimeoutMs: duration(1, 1, MAX_ATTEMPT_MS, MIN_TIMEOUT_MS).default(1500),
    requestTimeoutMs: duration(1, 1, MAX_TOTAL_MS, MIN_TIMEOUT_MS).default(10_000),
  })
  .superRefine((p, ctx) => {
    // A fingerprint pin replaces chain and name checks: a second trust setting would be silently ignored.
    for (const field of ["caFile", "serverName"] as const) {
      if (p.fingerprint !== undefined && p[field] !== undefined)
        ctx.addIssue({
          code: "custom",
          path: [field],
          message: "cannot be combined with proxmox.fingerprint (a fingerprint pin checks no CA and no name)",
        });
    }
  });

const node = z.strictObject({
  publicIPv4: ipv4,
  publicIPv6: via(parseIPv6).optional(),
  privateIP: ipv4,
  publicInterface: ifname,
  sshHost: via(parseSshHost).optional(),
  vmGateway: ipv4.optional(),
});

const dns = z.strictObject({
  zone: hostname,
  masters: z.array(via(parseMaster)).min(1, "needs at least one master candidate"),
  tsig: z.strictObject({
    name: hostname,
    algorithm: z
      .enum(["hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"], {
        error: (issue) =>
          `${JSON.stringify(issue.input)} is not one of hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512`,
      })
      .default("hmac-sha256"),
    secretFile: path,
  }),
  ttl: z.number().int().min(1, "must be at least 1").max(86_400, "must be at most 86400").default(60),
  timeoutMs: duration(1, 1, MAX_ATTEMPT_MS, MIN_TIMEOUT_MS).default(700),
  totalTimeoutMs: duration(1, 1, MAX_TOTAL_MS).default(10_000),
  ownerId: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,63}$/, "must be 1-63 letters, digits, '.', '_', '-'")
    .default("pvemigrate-dns"),
  deleteOnStop: z.boolean().default(false),
});

const nat = z.strictObject({
  backend: z.enum(["nftables", "none"]).default("nftables"),
  table: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_-]{0,31}$/, "must be a table name of letters, digits, '_', '-'")
    .default("pvemigrate"),
  graceMode: z.enum(["snat", "policy-routing"]).default("snat"),
});

const proxy = z.strictObject({
  backend: z.enum(["haproxy", "nginx", "none"]).default("haproxy"),
  socket: path.default("/run/haproxy/admin.sock"),
  mapDir: path.default("/etc/haproxy/pvemigrate"),
  httpsPort: port.default(443),
  httpPort: port.default(80),
  proxyProtocol: z.boolean().default(false),
});

const remote = z.strictObject({
  transport: z.enum(["ssh", "netns"]).default("ssh"),
  sshUser: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]{0,31}$/, "must be a user name")
    .default("root"),
  connectTimeoutSeconds: z.number().int().min(1).max(300).default(5),
  command: z
    .array(
      z
        .string()
        .regex(
          PLAIN_WORD,
          "must be a plain word or path (letters, digits, '_', '.', '/', ':', '-'): ssh hands it to the remote shell",
        ),
    )
    .min(1)
    .default(["pvemigrate-dns"]),
  netns: z
    .record(z.string(), z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be a namespace name"))
    .default({}),
});

const vmItems = {
  dns: hostname,
  forward: via(parseForward),
  sni: via((t) => parseRoute(t, 443)),
  http: via((t) => parseRoute(t, 80)),
  nodes: z.string(),
};

const vm = z.strictObject({
  ip: ipSource,
  ip6: ip6Source.optional(),
  dns: z.array(vmItems.dns).default([]),
  forward: z.array(vmItems.forward).default([]),
  sni: z.array(vmItems.sni).default([]),
  http: z.array(vmItems.http).default([]),
  nodes: z.array(vmItems.nodes).optional(),
  notesAllowed: z.boolean().optional(),
  externalNames: z.boolean().default(false),
});

/** One VM's block in the config file. */
export const vmSchema = vm;

/**
 * The lists a VM's Notes block may carry. No `ip` (a tenant must not pick
 * where traffic goes), no `nodes`, `notesAllowed` or `externalNames` (the
 * file's decisions): notes.ts reports those keys by name before this runs.
 */
export const notesBlockSchema = z.strictObject({
  dns: vm.shape.dns,
  forward: vm.shape.forward,
  sni: vm.shape.sni,
  http: vm.shape.http,
});

const notes = z.strictObject({
  enabled: z.boolean().default(false),
  dnsSuffixes: z.array(hostname).default([]),
  ports: z.array(via(parsePortRange)).default([]),
  maxNames: z.number().int().min(0).max(1000).default(16),
  maxForwards: z.number().int().min(0).max(1000).default(16),
  ip: z
    .enum(["agent", "dnsmasq", "mac"], {
      error: (issue) => `${JSON.stringify(issue.input)} is not one of agent, dnsmasq, mac`,
    })
    .default("dnsmasq"),
});

/**
 * Parses a VM block keeping every valid list entry even when others are
 * broken, so a typo in one forward does not hide that another entry of the
 * same VM collides with a second VM. Only for reporting: a config with any
 * problem is never used.
 */
export function parseVmLeniently(block: unknown): RawVm {
  const obj = (block && typeof block === "object" ? block : {}) as Record<string, unknown>;
  const ip = ipSource.safeParse(obj.ip);
  const list = <T>(item: z.ZodType<T>, value: unknown): T[] =>
    (Array.isArray(value) ? value : []).flatMap((v) => {
      const r = item.safeParse(v);
      return r.success ? [r.data] : [];
    });
  const ip6 = ip6Source.safeParse(obj.ip6);
  return {
    ip: ip.success ? ip.data : { kind: "agent" },
    ...(ip6.success ? { ip6: ip6.data } : {}),
    dns: list(vmItems.dns, obj.dns),
    forward: list(vmItems.forward, obj.forward),
    sni: list(vmItems.sni, obj.sni),
    http: list(vmItems.http, obj.http),
    ...(Array.isArray(obj.nodes) ? { nodes: list(vmItems.nodes, obj.nodes) } : {}),
    externalNames: obj.externalNames === true,
  };
}

export const configSchema = z.strictObject({
  proxmox,
  nodes: z.record(
    z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/, "is not a valid node name"),
    node,
  ),
  vmNetwork: via(parseCidr4).default("10.10.0.0/16"),
  vmNetwork6: cidr6.optional(),
  dns,
  nat: nat.prefault({}),
  proxy: proxy.prefault({}),
  graceSeconds: duration(1000, 1000, MAX_DAY_S).default(120),
  remote: remote.prefault({}),
  migrationWatchSeconds: duration(1000, 1000, MAX_DAY_S, 1).default(3600),
  safety: z.strictObject({ maxChangePercent: z.number().min(0).max(100).default(30) }).prefault({}),
  reservedPorts: z.array(via(parsePortRange)).prefault([...DEFAULT_RESERVED_PORTS]),
  strict: z.boolean().default(false),
  stateDir: path.default("/var/lib/pvemigrate-dns"),
  pveRoot: path.default("/etc/pve"),
  dnsmasqLeases: path.default("/var/lib/misc/dnsmasq.leases"),
  notes: notes.prefault({}),
  // Each VM is parsed on its own (vmSchema), so one broken VM does not hide
  // the cross-field problems of the others.
  vms: z
    .record(z.string().regex(/^[1-9]\d{2,8}$/, "is not a VM id (100-999999999)"), z.unknown())
    .default({}),
});

export type RawVm = z.output<typeof vmSchema>;
export type RawNotesBlock = z.output<typeof notesBlockSchema>;
export type RawConfig = Omit<z.output<typeof configSchema>, "vms"> & { vms: Record<string, RawVm> };
