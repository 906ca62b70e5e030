import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { netnsExec, type RunOptions, type RunResult, run } from "../../lib/process/run.ts";

// A small "world" of network namespaces standing for a Proxmox cluster on
// rented servers, built with real kernel networking (needs root):
//
//   client 203.0.113.1 ──┐ "internet" bridge (in the hub namespace)
//   node a 203.0.113.10 ─┤   pub0 on every node (its public interface)
//   node b 203.0.113.20 ─┘
//   node a 10.99.0.1 ──── private mesh bridge ──── node b 10.99.0.2   (mesh0)
//   node a vmbr0 10.10.1.1/24 ── VM namespaces (10.10.1.x/16, gateway 10.10.1.1)
//   node b vmbr0 10.10.2.1/24 ── VM namespaces (10.10.2.x/16, gateway 10.10.2.1)
//
// With `ipv6: true` every link also carries IPv6 (documentation and ULA
// prefixes): client 2001:db8::1, node n public 2001:db8::(10n), mesh
// fd99::n, VM bridge fd10:10:n::1/64, VMs their given ip6 (/32, the whole
// VM network fd10:10::/32, as the IPv4 VMs have /16).
//
// Each node routes the other nodes' VM subnets over the mesh. moveVm() re-plugs
// a VM into another node (keeping its IP, as a migration does) and fixes the
// host routes. Every name includes process.pid, destroy() kills every process
// started through the world and deletes every namespace, and the addresses
// (documentation ranges) exist only inside these namespaces: talk to them
// with world.exec / world.spawn / probe(), never from the host namespace.

export interface WorldNode {
  name: string;
  ns: string;
  publicIf: string;
  publicIp: string;
  meshIf: string;
  meshIp: string;
  vmBridge: string;
  /** The node's address on its VM bridge: its VMs' default gateway. */
  vmGateway: string;
  vmSubnet: string;
  /** With ipv6: the node's public IPv6, mesh IPv6, VM bridge IPv6 and its VMs' /64. */
  publicIp6?: string;
  meshIp6?: string;
  vmGateway6?: string;
  vmSubnet6?: string;
}

export interface WorldVm {
  name: string;
  ns: string;
  ip: string;
  ip6?: string;
  node: string;
}

export interface WorldOptions {
  /** Node names, default ["a", "b"]; node i gets 203.0.113.(10*(i+1)), mesh 10.99.0.(i+1), VMs 10.10.(i+1).0/24. */
  nodes?: string[];
  /** VMs and the node each starts on; ip inside 10.10.0.0/16, ip6 (with ipv6) inside fd10:10::/32. */
  vms?: { name: string; node: string; ip: string; ip6?: string }[];
  /** Give every link IPv6 addresses too (see the picture above). */
  ipv6?: boolean;
}

export interface World {
  hubNs: string;
  client: { ns: string; ip: string; ip6?: string; publicIf: string };
  nodes: Record<string, WorldNode>;
  vms: Record<string, WorldVm>;
  /** The whole VM network behind NAT. */
  vmNetwork: string;
  /** With ipv6: the VMs' IPv6 network. */
  vmNetwork6?: string;
  /** A temp dir removed by destroy(). */
  dir: string;
  /** Runs argv inside a namespace (resolves whatever the exit status). */
  exec(ns: string, argv: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Like exec, but a non-zero exit throws with stderr. */
  sh(ns: string, argv: readonly string[], opts?: RunOptions): Promise<string>;
  /** Starts a long-running process in a namespace; killed by destroy(). */
  spawn(ns: string, argv: readonly string[]): ChildProcessWithoutNullStreams;
  moveVm(vm: string, toNode: string): Promise<void>;
  destroy(): Promise<void>;
}

let worlds = 0;

/**
 * Namespaces a killed test run left behind (its pid is gone): deleted so they
 * cannot pile up on a CI machine. Only names this fixture makes are touched.
 */
async function removeStaleWorlds(): Promise<void> {
  const list = await run(["ip", "netns", "list"]);
  for (const line of list.stdout.split("\n")) {
    const m = /^(pvm(\d+)w\d+-\S+)/.exec(line);
    if (!m || alive(Number(m[2]))) continue;
    await killInside(m[1]!);
    await run(["ip", "netns", "del", m[1]!]);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Kills what still runs inside one of our namespaces (a daemonized process would keep it alive). */
async function killInside(ns: string): Promise<void> {
  const pids = await run(["ip", "netns", "pids", ns]);
  for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {}
  }
}

export async function createWorld(opts: WorldOptions = {}): Promise<World> {
  await removeStaleWorlds();
  const prefix = `pvm${process.pid}w${++worlds}`;
  const nodeNames = opts.nodes ?? ["a", "b"];
  const namespaces: string[] = [];
  const children = new Set<ChildProcessWithoutNullStreams>();
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));

  const exec = (ns: string, argv: readonly string[], o?: RunOptions) => netnsExec(ns)(argv, o);
  const sh = async (ns: string, argv: readonly string[], o?: RunOptions) => {
    const r = await exec(ns, argv, o);
    if (r.code !== 0) throw new Error(`[${ns}] ${argv.join(" ")}: ${r.stderr.trim() || `exit ${r.code}`}`);
    return r.stdout;
  };
  const ip = async (ns: string, ...args: string[]) => {
    const r = await run(["ip", "-n", ns, ...args]);
    if (r.code !== 0) throw new Error(`ip -n ${ns} ${args.join(" ")}: ${r.stderr.trim()}`);
  };
  const addNs = async (tag: string) => {
    const ns = `${prefix}-${tag}`;
    const r = await run(["ip", "netns", "add", ns]);
    if (r.code !== 0) throw new Error(`ip netns add ${ns}: ${r.stderr.trim()}`);
    namespaces.push(ns);
    await ip(ns, "link", "set", "lo", "up");
    return ns;
  };
  /** A veth from namespace a (name aName) to namespace b (name bName), created in place, never in the host. */
  const veth = async (a: string, aName: string, b: string, bName: string) => {
    await ip(a, "link", "add", aName, "type", "veth", "peer", "name", bName, "netns", b);
    await ip(a, "link", "set", aName, "up");
    await ip(b, "link", "set", bName, "up");
  };
  const sysctl = (ns: string, ...settings: string[]) => sh(ns, ["sysctl", "-q", "-w", ...settings]);
  const v6 = opts.ipv6 === true;
  // nodad: an address is usable at once (no duplicate detection delay).
  const addr6 = (ns: string, address: string, dev: string) =>
    ip(ns, "-6", "addr", "add", address, "dev", dev, "nodad");

  const world: World = {
    hubNs: "",
    client: { ns: "", ip: "203.0.113.1", publicIf: "eth0" },
    nodes: {},
    vms: {},
    vmNetwork: "10.10.0.0/16",
    dir,
    exec,
    sh,
    spawn(ns, argv) {
      const child = spawn("ip", ["netns", "exec", ns, ...argv], { stdio: ["pipe", "pipe", "pipe"] });
      children.add(child);
      child.on("exit", () => children.delete(child));
      return child;
    },
    async moveVm(name, toNode) {
      const vm = world.vms[name];
      const from = vm && world.nodes[vm.node];
      const to = world.nodes[toNode];
      if (!vm || !from || !to) throw new Error(`moveVm: unknown vm ${name} or node ${toNode}`);
      const port = `p${name}`.slice(0, 15);
      await ip(from.ns, "link", "del", port); // takes the VM's end with it
      await veth(to.ns, port, vm.ns, "eth0");
      await ip(to.ns, "link", "set", port, "master", to.vmBridge);
      await ip(vm.ns, "addr", "add", `${vm.ip}/16`, "dev", "eth0");
      await ip(vm.ns, "route", "replace", "default", "via", to.vmGateway);
      await ip(to.ns, "route", "replace", `${vm.ip}/32`, "dev", to.vmBridge);
      if (vm.ip6 && to.vmGateway6) {
        await addr6(vm.ns, `${vm.ip6}/32`, "eth0");
        await ip(vm.ns, "-6", "route", "replace", "default", "via", to.vmGateway6);
        await ip(to.ns, "-6", "route", "replace", `${vm.ip6}/128`, "dev", to.vmBridge);
      }
      // Every other node now reaches the VM over the mesh, through its new node.
      for (const other of Object.values(world.nodes)) {
        if (other === to) continue;
        await ip(other.ns, "route", "replace", `${vm.ip}/32`, "via", to.meshIp);
        if (vm.ip6 && to.meshIp6)
          await ip(other.ns, "-6", "route", "replace", `${vm.ip6}/128`, "via", to.meshIp6);
      }
      vm.node = toNode;
    },
    async destroy() {
      await Promise.all([...children].map(killChild));
      for (const ns of namespaces) {
        await killInside(ns).catch(() => {});
        await run(["ip", "netns", "del", ns]).catch(() => {});
      }
      namespaces.length = 0;
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    world.hubNs = await addNs("hub");
    for (const br of ["brpub", "brmesh"]) {
      await ip(world.hubNs, "link", "add", br, "type", "bridge");
      await ip(world.hubNs, "link", "set", br, "up");
    }
    world.client.ns = await addNs("client");
    await veth(world.hubNs, "c", world.client.ns, "eth0");
    await ip(world.hubNs, "link", "set", "c", "master", "brpub");
    await ip(world.client.ns, "addr", "add", `${world.client.ip}/24`, "dev", "eth0");
    if (v6) {
      world.client.ip6 = "2001:db8::1";
      world.vmNetwork6 = "fd10:10::/32";
      await addr6(world.client.ns, `${world.client.ip6}/64`, "eth0");
    }

    for (const [i, name] of nodeNames.entries()) {
      const n = i + 1;
      const node: WorldNode = {
        name,
        ns: await addNs(`n${name}`),
        publicIf: "pub0",
        publicIp: `203.0.113.${10 * n}`,
        meshIf: "mesh0",
        meshIp: `10.99.0.${n}`,
        vmBridge: "vmbr0",
        vmGateway: `10.10.${n}.1`,
        vmSubnet: `10.10.${n}.0/24`,
      };
      world.nodes[name] = node;
      await sysctl(
        node.ns,
        "net.ipv4.ip_forward=1",
        "net.ipv4.conf.all.rp_filter=0",
        "net.ipv4.conf.default.rp_filter=0",
      );
      await veth(world.hubNs, `p${n}`, node.ns, node.publicIf);
      await ip(world.hubNs, "link", "set", `p${n}`, "master", "brpub");
      await ip(node.ns, "addr", "add", `${node.publicIp}/24`, "dev", node.publicIf);
      await veth(world.hubNs, `m${n}`, node.ns, node.meshIf);
      await ip(world.hubNs, "link", "set", `m${n}`, "master", "brmesh");
      await ip(node.ns, "addr", "add", `${node.meshIp}/24`, "dev", node.meshIf);
      await ip(node.ns, "link", "add", node.vmBridge, "type", "bridge");
      await ip(node.ns, "link", "set", node.vmBridge, "up");
      await ip(node.ns, "addr", "add", `${node.vmGateway}/24`, "dev", node.vmBridge);
      if (v6) {
        Object.assign(node, {
          publicIp6: `2001:db8::${10 * n}`,
          meshIp6: `fd99::${n}`,
          vmGateway6: `fd10:10:${n}::1`,
          vmSubnet6: `fd10:10:${n}::/64`,
        });
        await sysctl(node.ns, "net.ipv6.conf.all.forwarding=1");
        await addr6(node.ns, `${node.publicIp6}/64`, node.publicIf);
        await addr6(node.ns, `${node.meshIp6}/64`, node.meshIf);
        await addr6(node.ns, `${node.vmGateway6}/64`, node.vmBridge);
      }
    }
    for (const node of Object.values(world.nodes)) {
      for (const other of Object.values(world.nodes)) {
        if (other === node) continue;
        await ip(node.ns, "route", "add", other.vmSubnet, "via", other.meshIp);
        if (other.vmSubnet6 && other.meshIp6)
          await ip(node.ns, "-6", "route", "add", other.vmSubnet6, "via", other.meshIp6);
      }
    }
    for (const spec of opts.vms ?? []) {
      const node = world.nodes[spec.node];
      if (!node) throw new Error(`vm ${spec.name}: unknown node ${spec.node}`);
      const vm: WorldVm = { name: spec.name, ns: await addNs(`v${spec.name}`), ip: spec.ip, node: spec.node };
      if (v6 && spec.ip6) vm.ip6 = spec.ip6;
      world.vms[spec.name] = vm;
      const port = `p${spec.name}`.slice(0, 15);
      await veth(node.ns, port, vm.ns, "eth0");
      await ip(node.ns, "link", "set", port, "master", node.vmBridge);
      await ip(vm.ns, "addr", "add", `${vm.ip}/16`, "dev", "eth0");
      await ip(vm.ns, "route", "add", "default", "via", node.vmGateway);
      const net24 = (a: string) => a.split(".").slice(0, 3).join(".");
      if (net24(vm.ip) !== net24(node.vmGateway)) {
        await ip(node.ns, "route", "add", `${vm.ip}/32`, "dev", node.vmBridge);
      }
      if (vm.ip6 && node.vmGateway6) {
        await addr6(vm.ns, `${vm.ip6}/32`, "eth0");
        await ip(vm.ns, "-6", "route", "add", "default", "via", node.vmGateway6);
        // Every VM /128 is routed explicitly: the VM's /32 spans all nodes' /64s.
        await ip(node.ns, "-6", "route", "add", `${vm.ip6}/128`, "dev", node.vmBridge);
      }
    }
  } catch (err) {
    await world.destroy();
    throw err;
  }
  return world;
}

function killChild(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

/** Resolves with the first stdout/stderr line matching re; rejects if the process exits first or after timeoutMs. */
export function waitForOutput(
  child: ChildProcessWithoutNullStreams,
  re: RegExp,
  timeoutMs = 10_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const onData = (b: Buffer) => {
      seen += b.toString("utf8");
      const m = re.exec(seen);
      if (m) {
        cleanup();
        resolve(m[0]);
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`process exited (${code}) before printing ${re}: ${seen.slice(-500)}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no ${re} within ${timeoutMs} ms: ${seen.slice(-500)}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout.off("data", onData);
      child.stderr.off("data", onData);
      child.off("exit", onExit);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", onExit);
  });
}

// ---- servers and clients that run inside the namespaces (plain node, no shell) ----

// v6: listen on IPv6 only (next to an IPv4 server on the same port).
export type ServerSpec =
  | { kind: "tcp" | "udp" | "http"; port: number; label: string; proxyProtocol?: boolean; v6?: boolean }
  | {
      kind: "tls";
      port: number;
      label: string;
      key: string;
      cert: string;
      proxyProtocol?: boolean;
      v6?: boolean;
    };

// Every server answers "<label> <what it saw> <peer address>" so a test can
// tell which VM answered, and whether the VM saw the client's own address.
const SERVER_JS = `
const spec = JSON.parse(process.argv[1]);
const fs = require("node:fs");
function peerOf(sock, first) {
  // PROXY protocol v2: 12-byte signature, ver/cmd, fam, len(2), then src addr (IPv4 TCP).
  if (spec.proxyProtocol && first && first.length >= 16 && first[12] === 0x21 && first[13] === 0x11) {
    return { addr: Array.from(first.subarray(16, 20)).join("."), rest: first.subarray(16 + first.readUInt16BE(14)) };
  }
  return { addr: sock.remoteAddress, rest: first };
}
const ready = () => console.log("READY " + spec.port);
const at = spec.v6 ? { port: spec.port, host: "::", ipv6Only: true } : { port: spec.port, host: "0.0.0.0" };
if (spec.kind === "tcp") {
  require("node:net").createServer((s) => {
    s.once("data", (b) => { const p = peerOf(s, b); s.end(spec.label + " " + p.rest.toString().trim() + " " + p.addr + "\\n"); });
    s.on("error", () => {});
  }).listen(at, ready);
} else if (spec.kind === "udp") {
  const sock = require("node:dgram").createSocket(spec.v6 ? { type: "udp6", ipv6Only: true } : "udp4");
  sock.on("message", (m, r) => sock.send(spec.label + " " + m.toString().trim() + " " + r.address, r.port, r.address));
  sock.bind(at.port, at.host, ready);
} else if (spec.kind === "http") {
  require("node:http").createServer((req, res) => {
    res.end(spec.label + " " + req.headers.host + " " + req.socket.remoteAddress + "\\n");
  }).listen(at, ready);
} else if (spec.kind === "tls") {
  const tls = require("node:tls");
  const opts = { key: fs.readFileSync(spec.key), cert: fs.readFileSync(spec.cert) };
  const handle = (s, addr) => { s.on("error", () => {}); s.end(spec.label + " " + (s.servername || "-") + " " + addr + "\\n"); };
  if (!spec.proxyProtocol) {
    tls.createServer(opts, (s) => handle(s, s.remoteAddress)).listen(at, ready);
  } else {
    const ctx = tls.createSecureContext(opts);
    require("node:net").createServer((raw) => {
      let buf = Buffer.alloc(0);
      const onData = (b) => {
        buf = Buffer.concat([buf, b]);
        if (buf.length < 16 || buf.length < 16 + buf.readUInt16BE(14)) return;
        raw.off("data", onData); raw.pause();
        const end = 16 + buf.readUInt16BE(14);
        const addr = Array.from(buf.subarray(16, 20)).join(".");
        raw.unshift(buf.subarray(end));
        const s = new tls.TLSSocket(raw, { isServer: true, secureContext: ctx });
        s.on("secure", () => handle(s, addr));
        s.on("error", () => {});
      };
      raw.on("data", onData);
      raw.on("error", () => {});
    }).listen(at, ready);
  }
}
`;

/** Starts a server inside ns (a VM) and waits until it listens. */
export async function startServer(
  world: World,
  ns: string,
  spec: ServerSpec,
): Promise<ChildProcessWithoutNullStreams> {
  const child = world.spawn(ns, [process.execPath, "-e", SERVER_JS, JSON.stringify(spec)]);
  await waitForOutput(child, /READY \d+/);
  return child;
}

export type ProbeSpec =
  | {
      kind: "tcp" | "udp";
      host: string;
      port: number;
      payload: string;
      timeoutMs?: number;
      localPort?: number;
    }
  | { kind: "tls"; host: string; port: number; servername: string; timeoutMs?: number }
  | { kind: "http"; host: string; port: number; hostHeader: string; timeoutMs?: number };

export interface ProbeResult {
  ok: boolean;
  /** The server's answer, trimmed. */
  data?: string;
  /** HTTP status for kind "http". */
  status?: number;
  /** CN of the certificate the TLS server presented. */
  cn?: string;
  error?: string;
}

const CLIENT_JS = `
const spec = JSON.parse(process.argv[1]);
const out = (r) => { process.stdout.write(JSON.stringify(r) + "\\n"); process.exit(0); };
setTimeout(() => out({ ok: false, error: "timeout" }), spec.timeoutMs || 3000);
if (spec.kind === "tcp") {
  const s = require("node:net").connect({ host: spec.host, port: spec.port, localPort: spec.localPort }, () => s.write(spec.payload + "\\n"));
  let data = ""; s.on("data", (b) => (data += b)); s.on("end", () => out({ ok: data.length > 0, data: data.trim() }));
  s.on("error", (e) => out({ ok: false, error: e.code || e.message }));
} else if (spec.kind === "udp") {
  const s = require("node:dgram").createSocket(spec.host.includes(":") ? "udp6" : "udp4");
  s.on("message", (m) => out({ ok: true, data: m.toString().trim() }));
  s.on("error", (e) => out({ ok: false, error: e.code || e.message }));
  s.bind(spec.localPort || 0, () => s.send(spec.payload, spec.port, spec.host));
} else if (spec.kind === "tls") {
  const s = require("node:tls").connect({ host: spec.host, port: spec.port, servername: spec.servername, rejectUnauthorized: false }, () => {
    const cn = s.getPeerCertificate().subject?.CN;
    let data = ""; s.on("data", (b) => (data += b)); s.on("end", () => out({ ok: true, cn, data: data.trim() }));
  });
  s.on("error", (e) => out({ ok: false, error: e.code || e.message }));
} else if (spec.kind === "http") {
  const req = require("node:http").get({ host: spec.host, port: spec.port, path: "/", headers: { host: spec.hostHeader }, agent: false }, (res) => {
    let data = ""; res.on("data", (b) => (data += b)); res.on("end", () => out({ ok: res.statusCode === 200, status: res.statusCode, data: data.trim() }));
  });
  req.on("error", (e) => out({ ok: false, error: e.code || e.message }));
}
`;

/** Connects from inside ns (the client, a VM) and reports what came back; never throws for network failures. */
export async function probe(world: World, ns: string, spec: ProbeSpec): Promise<ProbeResult> {
  const r = await world.exec(ns, [process.execPath, "-e", CLIENT_JS, JSON.stringify(spec)], {
    timeoutMs: 15_000,
  });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as ProbeResult;
  } catch {
    return { ok: false, error: `probe failed: ${r.stderr.trim().slice(-300) || `exit ${r.code}`}` };
  }
}

/** A self-signed certificate for one name (CN and SAN), in world.dir. */
export function makeCert(world: World, name: string): { key: string; cert: string } {
  const key = join(world.dir, `${name}.key`);
  const cert = join(world.dir, `${name}.crt`);
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
    ].concat(["-keyout", key, "-out", cert, "-subj", `/CN=${name}`, "-addext", `subjectAltName=DNS:${name}`]),
    { stdio: "ignore" },
  );
  return { key, cert };
}
