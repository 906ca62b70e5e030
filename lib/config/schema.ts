import { z } from "zod";
import { parseCidr } from "./cidr.ts";
import {
  cidr6,
  duration,
  endpoint,
  fingerprint,
  hostname,
  ifname,
  ip6Source,
  ipSource,
  ipv4,
  MAX_ATTEMPT_MS,
  MAX_DAY_S,
  MAX_TOTAL_MS,
  MIN_TIMEOUT_MS,
  path,
  port,
  serverName,
  tokenId,
  via,
} from "./fields.ts";
import { DEFAULT_RESERVED_PORTS } from "./reserved.ts";
import {
  PLAIN_WORD,
  parseCidr4,
  parseForward,
  parseIPv6,
  parseMaster,
  parsePortRange,
  parseRoute,
  parseSshHost,
  VMID_PATTERN,
} from "./values.ts";

// The shape of the config file, with defaults. Field names follow the
// documented contract in DESIGN.md; fields are added, never renamed. Objects
// are strict so a typo ("publicIpv4") is reported instead of silently ignored.

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

/** Where a switch's names are read back until every server agrees (lib/dns/propagation.ts). */
const propagation = z.strictObject({
  nameServers: z.boolean().default(true),
  allow: z.array(via(parseCidr)).default(["0.0.0.0/0", "::/0"]),
  port: port.default(53),
  servers: z.array(via(parseMaster)).default([]),
  waitSeconds: z.number().min(0).max(3600, "must be at most 3600").default(30),
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
  // A steady run reuses its last read of the names while the zone's SOA serial is unchanged;
  // a zone file edited and reloaded without a serial bump is read again after this long.
  fullReadMinutes: z
    .number()
    .int()
    .min(0, "must be at least 0")
    .max(1440, "must be at most 1440")
    .default(10),
  // Default: 30, or dns.ttl when that is lower (normalize.ts).
  moveTtl: z.number().int().min(1, "must be at least 1").max(86_400, "must be at most 86400").optional(),
  propagation: propagation.default({
    nameServers: true,
    allow: ["0.0.0.0/0", "::/0"],
    port: 53,
    servers: [],
    waitSeconds: 30,
  }),
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
  // How long grace may outlast graceSeconds while a name server still answers the old address.
  graceMaxSeconds: duration(1000, 1000, MAX_DAY_S).default(3600),
  remote: remote.prefault({}),
  migrationWatchSeconds: duration(1000, 1000, MAX_DAY_S, 1).default(3600),
  safety: z.strictObject({ maxChangePercent: z.number().min(0).max(100).default(30) }).prefault({}),
  // node_exporter's textfile collector reads only *.prom files.
  metrics: z
    .strictObject({ textfile: path.refine((p) => p.endsWith(".prom"), "must end in .prom").optional() })
    .prefault({}),
  reservedPorts: z.array(via(parsePortRange)).prefault([...DEFAULT_RESERVED_PORTS]),
  strict: z.boolean().default(false),
  stateDir: path.default("/var/lib/pvemigrate-dns"),
  pveRoot: path.default("/etc/pve"),
  dnsmasqLeases: path.default("/var/lib/misc/dnsmasq.leases"),
  notes: notes.prefault({}),
  // Each VM is parsed on its own (vmSchema), so one broken VM does not hide
  // the cross-field problems of the others.
  vms: z.record(z.string().regex(VMID_PATTERN, "is not a VM id (100-999999999)"), z.unknown()).default({}),
});

export type RawVm = z.output<typeof vmSchema>;
export type RawNotesBlock = z.output<typeof notesBlockSchema>;
export type RawConfig = Omit<z.output<typeof configSchema>, "vms"> & { vms: Record<string, RawVm> };
