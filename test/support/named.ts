import { type ChildProcess, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TsigAlgorithm } from "../../lib/config/types.ts";
import { namedOptions } from "../../lib/demo/named.ts";
import { run, runChecked } from "../../lib/process/run.ts";

// Real BIND 9 daemons for integration tests: a primary that accepts
// TSIG-signed updates, and a secondary that transfers the zone from it and
// forwards updates (a realistic second master candidate). Each listens on
// 127.0.0.1 at a free high port, runs in the foreground (`named -g`) from its
// own temp dir, and stop() kills it and removes the dir.

export interface TsigKeyFixture {
  name: string;
  algorithm: TsigAlgorithm;
  /** base64, as tsig-keygen prints it */
  secret: string;
}

export interface DnsDaemon {
  host: "127.0.0.1";
  port: number;
  dir: string;
  /** What the daemon printed so far: for assertion messages when it misbehaves. */
  log(): string;
  stop(): Promise<void>;
}

/** A port free for both UDP and TCP on 127.0.0.1 (DNS servers need both). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once("error", reject);
      srv.listen(0, "127.0.0.1", () => {
        const addr = srv.address();
        srv.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const sock = createSocket("udp4");
      sock.once("error", () => resolve(false));
      sock.bind(port, "127.0.0.1", () => sock.close(() => resolve(true)));
    });
    if (port > 0 && udpFree) return port;
  }
  throw new Error("no free port for UDP and TCP");
}

/** A fresh key from the real `tsig-keygen`, so the test never depends on our own key handling. */
export async function generateTsigKey(
  name: string,
  algorithm: TsigAlgorithm = "hmac-sha256",
): Promise<TsigKeyFixture> {
  const { stdout } = await runChecked(["tsig-keygen", "-a", algorithm, name]);
  const secret = /secret "([^"]+)"/.exec(stdout)?.[1];
  if (!secret) throw new Error(`tsig-keygen printed no secret: ${stdout}`);
  return { name, algorithm, secret };
}

/** The minimal zone every fixture serves; extra lines (relative or absolute owner names) are appended. */
export function zoneFile(zone: string, extra: string[] = []): string {
  return [
    `$ORIGIN ${zone}.`,
    "$TTL 300",
    `@ IN SOA ns1.${zone}. hostmaster.${zone}. 1 3600 600 86400 60`,
    `@ IN NS ns1.${zone}.`,
    "ns1 IN A 127.0.0.1",
    ...extra,
    "",
  ].join("\n");
}

function bindKey(k: TsigKeyFixture): string {
  return `key "${k.name}" { algorithm ${k.algorithm}; secret "${k.secret}"; };`;
}

function bindOptions(dir: string, port: number): string {
  return `${namedOptions(dir, port, [
    "notify explicit;",
    "startup-notify-rate 1000;",
    "notify-rate 1000;",
    "serial-query-rate 1000;",
  ])}
`;
}

interface Spawned {
  child: ChildProcess;
  output: () => string;
}

function spawnDaemon(argv: string[]): Spawned {
  const [cmd, ...args] = argv;
  const child = spawn(cmd as string, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout?.on("data", (b: Buffer) => {
    out += b.toString("utf8");
  });
  child.stderr?.on("data", (b: Buffer) => {
    out += b.toString("utf8");
  });
  child.on("error", (err) => {
    out += `\nspawn error: ${err.message}`;
  });
  // If the test process dies before stop() (a crash, a killed worker), take the daemon along.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  child.once("exit", () => process.removeListener("exit", killOnExit));
  return { child, output: () => out };
}

async function stopDaemon(s: Spawned, dir: string): Promise<void> {
  const { child } = s;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
  }
  await rm(dir, { recursive: true, force: true });
}

/** dig at one daemon, no recursion; returns the +short lines (empty when the name has none). */
export async function dig(port: number, name: string, type: string): Promise<string[]> {
  const { stdout, code } = await run([
    "dig",
    "+norec",
    "+short",
    "+time=1",
    "+tries=2",
    "-p",
    String(port),
    "@127.0.0.1",
    name,
    type,
  ]);
  if (code !== 0) throw new Error(`dig ${name} ${type} at port ${port} failed: ${stdout}`);
  return stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .sort();
}

/** Waits until the daemon answers authoritatively for the zone, or fails with its log. */
export async function waitForZone(s: Spawned, port: number, zone: string, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (s.child.exitCode !== null || s.child.signalCode !== null) {
      throw new Error(`${what} exited during startup:\n${s.output()}`);
    }
    const { stdout } = await run([
      "dig",
      "+norec",
      "+time=1",
      "+tries=1",
      "-p",
      String(port),
      "@127.0.0.1",
      zone,
      "SOA",
    ]);
    if (/status: NOERROR/.test(stdout) && /flags:[^;]*\baa\b/.test(stdout)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not serve ${zone} within 15 s:\n${s.output()}`);
}

async function startNamed(
  dir: string,
  conf: string,
  port: number,
  zone: string,
  what: string,
): Promise<DnsDaemon> {
  const confPath = join(dir, "named.conf");
  await writeFile(confPath, conf);
  const s = spawnDaemon(["named", "-g", "-4", "-c", confPath]);
  try {
    await waitForZone(s, port, zone, what);
  } catch (err) {
    await stopDaemon(s, dir);
    throw err;
  }
  return { host: "127.0.0.1", port, dir, log: s.output, stop: () => stopDaemon(s, dir) };
}

export interface NamedPrimaryOptions {
  zone: string;
  /** Keys that may update the whole zone. */
  keys: TsigKeyFixture[];
  /** Keys the primary knows but whose updates the policy refuses (REFUSED). */
  readOnlyKeys?: TsigKeyFixture[];
  /** Extra zone file lines, e.g. `legacy IN A 192.0.2.7`. */
  records?: string[];
  /** Where to NOTIFY (the secondary's port), so it follows updates at once. */
  notifyPorts?: number[];
}

/** A BIND primary: `update-policy { grant <key> zonesub ANY; }` for every given key. */
export async function startNamedPrimary(opts: NamedPrimaryOptions): Promise<DnsDaemon> {
  const dir = await mkdtemp(join(tmpdir(), `pvemigrate-named-p-${process.pid}-`));
  const port = await freePort();
  await writeFile(join(dir, "zone.db"), zoneFile(opts.zone, opts.records));
  const notify = (opts.notifyPorts ?? []).map((p) => `127.0.0.1 port ${p};`).join(" ");
  const conf = `${bindOptions(dir, port)}
${[...opts.keys, ...(opts.readOnlyKeys ?? [])].map(bindKey).join("\n")}
zone "${opts.zone}" {
  type primary;
  file "${join(dir, "zone.db")}";
  update-policy { ${opts.keys.map((k) => `grant "${k.name}" zonesub ANY;`).join(" ")} };
  allow-transfer { any; };
  ${notify ? `also-notify { ${notify} };` : ""}
};
`;
  return startNamed(dir, conf, port, opts.zone, "named primary");
}

export interface NamedSecondaryOptions {
  zone: string;
  primaryPort: number;
  /** Must include the key clients sign with: named checks the TSIG before forwarding. */
  keys: TsigKeyFixture[];
  /** Use a fixed port (to restart a secondary where the primary's NOTIFYs go). */
  port?: number;
}

/** A BIND secondary of the primary, forwarding signed updates to it (`allow-update-forwarding`). */
export async function startNamedSecondary(opts: NamedSecondaryOptions): Promise<DnsDaemon> {
  const dir = await mkdtemp(join(tmpdir(), `pvemigrate-named-s-${process.pid}-`));
  const port = opts.port ?? (await freePort());
  const conf = `${bindOptions(dir, port)}
${opts.keys.map(bindKey).join("\n")}
zone "${opts.zone}" {
  type secondary;
  file "${join(dir, "zone.db")}";
  primaries { 127.0.0.1 port ${opts.primaryPort}; };
  allow-update-forwarding { any; };
  allow-notify { 127.0.0.1; };
};
`;
  return startNamed(dir, conf, port, opts.zone, "named secondary");
}

/** Spawns a daemon whose readiness is checked like named's; used by the knot fixture. */
export const daemonInternals = { spawnDaemon, stopDaemon };
