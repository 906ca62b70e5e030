import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runChecked } from "../../lib/process/run.ts";
import {
  type DnsDaemon,
  daemonInternals,
  freePort,
  type TsigKeyFixture,
  waitForZone,
  zoneFile,
} from "./named.ts";
import { commandWords, guideSnippet, substitute } from "./setup-guide.ts";

// A real PowerDNS Authoritative server (Debian's pdns-server with the
// sqlite3 backend): a third, independent RFC 2136 + TSIG implementation with
// a prerequisite check of its own. Its pdns.conf and pdnsutil commands come
// from docs/DNS-SERVERS.md, so the guide is what the tests run. It listens on
// 127.0.0.1 at a free high port in the foreground, from its own temp dir;
// stop() kills it and removes the dir.

/** Where Debian ships the backend's schema (the doc copy is the older path). */
const SCHEMAS = [
  "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql",
  "/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql",
];

/** Test-only settings on top of the guide's pdns.conf. */
function localSettings(dir: string, port: number, notifyTo: PowerDnsOptions["notifyTo"] = []): string[] {
  return [
    "local-address=127.0.0.1",
    `local-port=${port}`,
    `socket-dir=${dir}`,
    "daemon=no",
    "guardian=no",
    "disable-syslog=yes",
    "loglevel=6",
    // Never contact anything else: no security-status query (a DNS lookup of
    // secpoll.powerdns.com through the system resolver), no NOTIFY to the zone's NS.
    "security-poll-suffix=",
    "only-notify=",
    ...(notifyTo.length
      ? ["primary=yes", `also-notify=${notifyTo.map((n) => `${n.host}:${n.port}`).join(",")}`]
      : []),
  ];
}

export interface PowerDnsOptions {
  zone: string;
  /** The key the guide's commands import and allow to update the zone. */
  key: TsigKeyFixture;
  /** Keys PowerDNS knows but the zone does not allow (TSIG-ALLOW-DNSUPDATE lacks them). */
  otherKeys?: TsigKeyFixture[];
  /** Extra zone file lines, e.g. `legacy IN A 192.0.2.7`. */
  records?: string[];
  /** The zone's NS set (zoneFile's default: ns1 at 127.0.0.1). */
  nameServers?: Array<{ name: string; address: string }>;
  /**
   * Secondaries to NOTIFY after each change: the zone becomes a primary zone
   * (`primary=yes`, kind primary) with `also-notify` for each. only-notify
   * stays empty, so nothing outside this list is ever notified.
   */
  notifyTo?: Array<{ host: string; port: number }>;
  /** Its port on 127.0.0.1 (default: a free one), e.g. the port the zone's other NS share. */
  port?: number;
}

async function pdnsutil(dir: string, args: string[]): Promise<void> {
  await runChecked(["pdnsutil", `--config-dir=${dir}`, ...args]);
}

/** The guide's `pdnsutil ...` lines for this zone and key, as argument arrays. */
export function guideCommands(zone: string, key: TsigKeyFixture): string[][] {
  const text = substitute(guideSnippet("pdns-commands"), {
    $SECRET: key.secret,
    "pvemigrate-key": key.name,
    "hmac-sha256": key.algorithm,
    "example.org": zone,
  });
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map(commandWords);
}

export async function startPowerDns(opts: PowerDnsOptions): Promise<DnsDaemon> {
  const dir = await mkdtemp(join(tmpdir(), `pvemigrate-pdns-${process.pid}-`));
  try {
    const port = opts.port ?? (await freePort());
    const db = join(dir, "pdns.sqlite3");
    const schema = SCHEMAS.find((p) => existsSync(p));
    if (!schema) throw new Error(`no sqlite3 schema for PowerDNS at ${SCHEMAS.join(" or ")}`);
    await runChecked(["sqlite3", db], { input: await readFile(schema, "utf8") });
    const guideConf = substitute(guideSnippet("pdns-conf"), {
      "/var/lib/powerdns/pdns.sqlite3": db,
      "10.10.0.0/16": "127.0.0.0/8",
    });
    await writeFile(
      join(dir, "pdns.conf"),
      `${guideConf}${localSettings(dir, port, opts.notifyTo).join("\n")}\n`,
    );
    const zonePath = join(dir, "zone.db");
    await writeFile(zonePath, zoneFile(opts.zone, opts.records, opts.nameServers));
    await pdnsutil(dir, ["load-zone", opts.zone, zonePath]);
    if (opts.notifyTo?.length) await pdnsutil(dir, ["set-kind", opts.zone, "primary"]);
    for (const [cmd, ...args] of guideCommands(opts.zone, opts.key)) {
      if (cmd !== "pdnsutil") throw new Error(`the guide's PowerDNS commands run ${cmd}, not pdnsutil`);
      await pdnsutil(dir, args);
    }
    for (const k of opts.otherKeys ?? [])
      await pdnsutil(dir, ["import-tsig-key", k.name, k.algorithm, k.secret]);
    const s = daemonInternals.spawnDaemon(["pdns_server", `--config-dir=${dir}`]);
    try {
      await waitForZone(s, port, opts.zone, "pdns_server");
    } catch (err) {
      await daemonInternals.stopDaemon(s, dir);
      throw err;
    }
    return { host: "127.0.0.1", port, dir, log: s.output, stop: () => daemonInternals.stopDaemon(s, dir) };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
