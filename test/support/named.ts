import { type ChildProcess, spawn, spawnSync } from "node:child_process";
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
  /** 127.0.0.1, or another loopback address (127.0.0.2, ...) so daemons can share a port. */
  host: string;
  port: number;
  dir: string;
  /** What the daemon printed so far: for assertion messages when it misbehaves. */
  log(): string;
  stop(): Promise<void>;
}

/** A port free for both UDP and TCP on 127.0.0.1 (DNS servers need both), and on every other address given. */
export async function freePort(addresses: readonly string[] = ["127.0.0.1"]): Promise<number> {
  const tcpFree = (port: number, address: string) =>
    new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(false));
      srv.listen(port, address, () => srv.close(() => resolve(true)));
    });
  const udpFree = (port: number, address: string) =>
    new Promise<boolean>((resolve) => {
      const sock = createSocket("udp4");
      sock.once("error", () => resolve(false));
      sock.bind(port, address, () => sock.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once("error", reject);
      srv.listen(0, "127.0.0.1", () => {
        const addr = srv.address();
        srv.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
      });
    });
    let free = port > 0;
    for (const address of addresses) {
      free &&= await udpFree(port, address);
      if (address !== "127.0.0.1") free &&= await tcpFree(port, address);
    }
    if (free) return port;
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

/**
 * The minimal zone every fixture serves; extra lines (relative or absolute
 * owner names) are appended. The SOA MNAME is the first name server.
 */
export function zoneFile(
  zone: string,
  extra: string[] = [],
  nameServers: Array<{ name: string; address: string }> = [{ name: "ns1", address: "127.0.0.1" }],
): string {
  return [
    `$ORIGIN ${zone}.`,
    "$TTL 300",
    `@ IN SOA ${nameServers[0]?.name ?? "ns1"}.${zone}. hostmaster.${zone}. 1 3600 600 86400 60`,
    ...nameServers.map((ns) => `@ IN NS ${ns.name}.${zone}.`),
    ...nameServers.map((ns) => `${ns.name} IN A ${ns.address}`),
    ...extra,
    "",
  ].join("\n");
}

function bindKey(k: TsigKeyFixture): string {
  return `key "${k.name}" { algorithm ${k.algorithm}; secret "${k.secret}"; };`;
}

function bindOptions(dir: string, port: number, address = "127.0.0.1"): string {
  const options = namedOptions(dir, port, [
    "notify explicit;",
    // BIND holds a zone's next NOTIFY for 5 s by default; secondaries in tests follow at once.
    "notify-delay 0;",
    "startup-notify-rate 1000;",
    "notify-rate 1000;",
    "serial-query-rate 1000;",
  ]);
  // namedOptions listens on 127.0.0.1; a daemon on another loopback address listens only there.
  return `${options.replace(`listen-on port ${port} { 127.0.0.1; };`, `listen-on port ${port} { ${address}; };`)}
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
export async function dig(port: number, name: string, type: string, host = "127.0.0.1"): Promise<string[]> {
  const { stdout, code } = await run([
    "dig",
    "+norec",
    "+short",
    "+time=1",
    "+tries=2",
    "-p",
    String(port),
    `@${host}`,
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

/** dig's answer section (`name TTL IN TYPE rdata` lines): what +short hides, the TTL above all. */
export async function digAnswer(port: number, name: string, type: string): Promise<string> {
  const { stdout } = await run([
    "dig",
    "+norec",
    "+noall",
    "+answer",
    "-p",
    String(port),
    "@127.0.0.1",
    name,
    type,
  ]);
  return stdout;
}

/** The TTLs of the name's `type` records as the server serves them (dig, not our client). */
export async function ttlsAt(port: number, name: string, type: string): Promise<number[]> {
  return (await digAnswer(port, name, type)).split("\n").flatMap((line) => {
    const m = /^\S+\s+(\d+)\s+IN\s+(\S+)\s/.exec(line);
    return m?.[2] === type ? [Number(m[1])] : [];
  });
}

/** Waits until the daemon answers authoritatively for the zone, or fails with its log. */
export async function waitForZone(
  s: Spawned,
  port: number,
  zone: string,
  what: string,
  host = "127.0.0.1",
  netns?: string,
): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (s.child.exitCode !== null || s.child.signalCode !== null) {
      throw new Error(`${what} exited during startup:\n${s.output()}`);
    }
    const { stdout } = await run([
      ...inNetns(netns),
      "dig",
      "+norec",
      "+time=1",
      "+tries=1",
      "-p",
      String(port),
      `@${host}`,
      zone,
      "SOA",
    ]);
    if (/status: NOERROR/.test(stdout) && /flags:[^;]*\baa\b/.test(stdout)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not serve ${zone} within 15 s:\n${s.output()}`);
}

/** The argv prefix that runs a command inside network namespace `ns` (nothing without one). */
function inNetns(ns: string | undefined): string[] {
  return ns ? ["ip", "netns", "exec", ns] : [];
}

async function startNamed(
  dir: string,
  conf: string,
  port: number,
  zone: string,
  what: string,
  host = "127.0.0.1",
  netns?: string,
): Promise<DnsDaemon> {
  const confPath = join(dir, "named.conf");
  await writeFile(confPath, conf);
  // `ip netns exec` execs named in its place: the child's pid is named's own.
  const s = spawnDaemon([...inNetns(netns), "named", "-g", "-4", "-c", confPath]);
  try {
    await waitForZone(s, port, zone, what, host, netns);
  } catch (err) {
    await stopDaemon(s, dir);
    throw err;
  }
  return { host, port, dir, log: s.output, stop: () => stopDaemon(s, dir) };
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
  /** NOTIFY targets on other loopback addresses. */
  notifyTo?: Array<{ host: string; port: number }>;
  /** Listen on this loopback address (default 127.0.0.1) ... */
  host?: string;
  /** ... and port (default: a free one). */
  port?: number;
  /** Replaces the fixture's NS record set (default: ns1 -> 127.0.0.1). */
  nameServers?: Array<{ name: string; address: string }>;
  /** Run inside this network namespace (a test's own; give `port`: the host's free ports say nothing there). */
  netns?: string;
}

/** A BIND primary: `update-policy { grant <key> zonesub ANY; }` for every given key. */
export async function startNamedPrimary(opts: NamedPrimaryOptions): Promise<DnsDaemon> {
  const dir = await mkdtemp(join(tmpdir(), `pvemigrate-named-p-${process.pid}-`));
  const host = opts.host ?? "127.0.0.1";
  const port = opts.port ?? (await freePort());
  await writeFile(join(dir, "zone.db"), zoneFile(opts.zone, opts.records, opts.nameServers));
  const notify = [
    ...(opts.notifyPorts ?? []).map((p) => `127.0.0.1 port ${p};`),
    ...(opts.notifyTo ?? []).map((t) => `${t.host} port ${t.port};`),
  ].join(" ");
  const conf = `${bindOptions(dir, port, host)}
${[...opts.keys, ...(opts.readOnlyKeys ?? [])].map(bindKey).join("\n")}
zone "${opts.zone}" {
  type primary;
  file "${join(dir, "zone.db")}";
  update-policy { ${opts.keys.map((k) => `grant "${k.name}" zonesub ANY;`).join(" ")} };
  allow-transfer { any; };
  ${notify ? `also-notify { ${notify} };` : ""}
};
`;
  return startNamed(dir, conf, port, opts.zone, "named primary", host, opts.netns);
}

export interface NamedSecondaryOptions {
  zone: string;
  primaryPort: number;
  /** Must include the key clients sign with: named checks the TSIG before forwarding. */
  keys: TsigKeyFixture[];
  /** Use a fixed port (to restart a secondary where the primary's NOTIFYs go). */
  port?: number;
  /** Listen on this loopback address (default 127.0.0.1); the primary's address (default 127.0.0.1). */
  host?: string;
  primaryHost?: string;
  /** Run inside this network namespace (see NamedPrimaryOptions.netns). */
  netns?: string;
}

/** A BIND secondary of the primary, forwarding signed updates to it (`allow-update-forwarding`). */
export async function startNamedSecondary(opts: NamedSecondaryOptions): Promise<DnsDaemon> {
  const dir = await mkdtemp(join(tmpdir(), `pvemigrate-named-s-${process.pid}-`));
  const host = opts.host ?? "127.0.0.1";
  const port = opts.port ?? (await freePort());
  const conf = `${bindOptions(dir, port, host)}
${opts.keys.map(bindKey).join("\n")}
zone "${opts.zone}" {
  type secondary;
  file "${join(dir, "zone.db")}";
  primaries { ${opts.primaryHost ?? "127.0.0.1"} port ${opts.primaryPort}; };
  allow-update-forwarding { any; };
  allow-notify { 127.0.0.0/8; };
};
`;
  return startNamed(dir, conf, port, opts.zone, "named secondary", host, opts.netns);
}

/** Spawns a daemon whose readiness is checked like named's; used by the knot fixture. */
export const daemonInternals = { spawnDaemon, stopDaemon };

/**
 * Extra loopback addresses (127.0.0.2, ...) on `lo` for the life of a test:
 * named listens only on addresses an interface has, and daemons on distinct
 * loopback addresses can share one port, as name servers share port 53.
 * Needs root. Only addresses this call added are removed again (also when
 * the process exits before `remove()`).
 */
export async function loopbackAliases(addresses: readonly string[]): Promise<{ remove(): Promise<void> }> {
  const added: string[] = [];
  const present = (await runChecked(["ip", "-4", "-o", "addr", "show", "dev", "lo"])).stdout;
  for (const a of addresses) {
    if (!/^127\.\d+\.\d+\.\d+$/.test(a)) throw new Error(`${a} is not a loopback address`);
    if (present.includes(` ${a}/`)) continue;
    await runChecked(["ip", "addr", "add", `${a}/32`, "dev", "lo"]);
    added.push(a);
  }
  const removeSync = () => {
    for (const a of added) spawnSync("ip", ["addr", "del", `${a}/32`, "dev", "lo"]);
  };
  process.once("exit", removeSync);
  return {
    async remove() {
      process.removeListener("exit", removeSync);
      for (const a of added.splice(0)) await run(["ip", "addr", "del", `${a}/32`, "dev", "lo"]);
    },
  };
}
