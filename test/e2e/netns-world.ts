import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Runtime } from "../../lib/orchestrate/runtime.ts";
import { type RunResult, run } from "../../lib/process/run.ts";
import { haproxyCommand } from "../../lib/proxy/admin-socket.ts";
import { writeMapFile } from "../../lib/proxy/files.ts";
import { haproxyMapFormat } from "../../lib/proxy/haproxy.ts";
import { renderHaproxyConfig } from "../../lib/proxy/haproxy-config.ts";
import { dig } from "../support/named.ts";
import { createWorld, makeCert, type ProbeResult, probe, startServer, type World } from "../support/netns.ts";
import { type Harness, type HarnessOptions, startHarness } from "./harness.ts";

// The whole cluster on one machine, for the orchestrator's end-to-end tests:
// the simulated Proxmox API and real BIND (the harness), plus one network
// namespace per node (pve1, pve2) with real nft and a real HAProxy in it, a
// client namespace on the "internet", and VM 101 in its own namespace with a
// TCP, UDP, TLS and HTTP server. The orchestrator's processes (CLI, hook,
// worker) run in the host namespace, where the sim and named listen on
// 127.0.0.1; only nft and HAProxy run inside the node namespaces.

export const VMID = 101;
export const VM_NAME = "mail.example.org";
export const NODES = ["pve1", "pve2"] as const;
export type NodeName = (typeof NODES)[number];

export interface NetnsClusterOptions {
  graceSeconds?: number;
  migrationDelayMs?: number;
  /** How the orchestrator learns the VM's private IP: fixed in the config (default) or from the guest agent. */
  ipSource?: "static" | "agent";
  /** Extra config changes after the defaults of this fixture. */
  config?: HarnessOptions["config"];
  /** Masters the caller started (see HarnessOptions.masters). */
  masters?: HarnessOptions["masters"];
}

export interface NetnsCluster {
  h: Harness;
  world: World;
  /** VM 101's private IP. */
  vmIp: string;
  publicIp(node: NodeName): string;
  /** Node `node`'s namespace (what remote.netns names). */
  ns(node: NodeName): string;
  runtime(node: NodeName): Runtime;
  /** The built CLI bundle as a process acting as `node`, without blocking the sim in this process. */
  cli(node: NodeName, args: string[], opts?: { configFile?: string }): Promise<RunResult>;
  /** The built hookscript bundle, as Proxmox runs it on `node`: `<script> 101 <phase>`. */
  hook(node: NodeName, phase: string, env?: Record<string, string>): Promise<RunResult & { ms: number }>;
  /**
   * Node `node` dies: its public link goes down, its API endpoint stops answering, and
   * the namespace name the config's remote.netns gives for it disappears, so
   * every attempt to reach it (`ip netns exec`) fails, as ssh to a dead node does.
   */
  nodeDown(node: NodeName): Promise<void>;
  /** Node `node` is back: the reverse of nodeDown. */
  nodeUp(node: NodeName): Promise<void>;
  /** Kills the node's HAProxy and starts it again from its config and map files (a reboot, a package upgrade). */
  restartHaproxy(node: NodeName): Promise<void>;
  /** What the node's detached hook workers logged (stateDir/worker.log), "" before the first one. */
  workerLog(node: NodeName): string;
  /** A at the primary for the VM's name. */
  dnsA(): Promise<string[]>;
  /** `nft list table ip pvemigrate` inside the node, "" when the table does not exist. */
  nftTable(node: NodeName): Promise<string>;
  /** HAProxy's runtime SNI map on the node, as "name target" lines. */
  sniMap(node: NodeName): Promise<string>;
  /** TCP forward tcp/2222 on the node's public IP, from the client. */
  tcp(node: NodeName): Promise<ProbeResult>;
  /** UDP forward udp/51820 on the node's public IP, from the client. */
  udp(node: NodeName): Promise<ProbeResult>;
  /** TLS on the node's :443 with the VM's name as SNI, from the client. */
  tls(node: NodeName): Promise<ProbeResult>;
  /** HTTP on the node's :80 with the VM's name as Host, from the client. */
  http(node: NodeName): Promise<ProbeResult>;
  /** Moves the VM in the sim (no task: offline move, HA recovery) and plugs its namespace into `node`. */
  moveVm(node: NodeName): Promise<void>;
  /**
   * Freezes (SIGSTOP) or thaws both BIND masters: a hung master that neither
   * answers nor refuses; queries sent meanwhile are answered late, on thaw.
   */
  freezeMasters(frozen: boolean): void;
  /** Kills processes (detached hook workers, CLI runs) still running from this cluster's bundle. */
  killStrays(): void;
  stop(): Promise<void>;
}

/** Polls `check` until it returns a value other than undefined/false, or fails naming `what`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
  pollMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${last})`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Pids of processes whose command line mentions `needle` (our temp dir): never a broad name. */
function pidsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) out.push(Number(entry));
    } catch {}
  }
  return out;
}

async function startHaproxy(
  world: World,
  rt: Runtime,
  ns: string,
  fresh: boolean,
): Promise<ChildProcessWithoutNullStreams> {
  const proxy = rt.config.proxy;
  mkdirSync(join(proxy.socket, ".."), { recursive: true });
  // HAProxy refuses to start without its map files; a restart loads what they hold.
  for (const kind of ["sni", "http"] as const) {
    if (fresh) await writeMapFile(join(proxy.mapDir, `${kind}.map`), haproxyMapFormat.render(kind, []));
  }
  const cfg = join(proxy.mapDir, "..", "haproxy.cfg");
  writeFileSync(cfg, renderHaproxyConfig(proxy));
  const child = world.spawn(ns, ["haproxy", "-db", "-f", cfg]);
  await waitFor(
    `haproxy in ${ns}`,
    async () => {
      if (child.exitCode !== null) throw new Error(`haproxy exited ${child.exitCode}`);
      return (await haproxyCommand(proxy.socket, "show info").catch(() => "")).includes("Pid:");
    },
    10_000,
    50,
  );
  return child;
}

export async function startNetnsCluster(opts: NetnsClusterOptions = {}): Promise<NetnsCluster> {
  const vmIp = "10.10.1.101";
  const world = await createWorld({
    nodes: [...NODES],
    vms: [{ name: "vm101", node: "pve1", ip: vmIp }],
  });
  let h: Harness | undefined;
  try {
    const vmNs = world.vms.vm101!.ns;
    await startServer(world, vmNs, { kind: "tcp", port: 22, label: "vm101" });
    await startServer(world, vmNs, { kind: "udp", port: 5353, label: "vm101" });
    await startServer(world, vmNs, { kind: "tls", port: 443, label: "vm101", ...makeCert(world, VM_NAME) });
    await startServer(world, vmNs, { kind: "http", port: 80, label: "vm101" });

    // remote.netns names an alias of each node's namespace: nodeDown removes
    // the alias (the namespace and its processes live on), nodeUp brings it back.
    const alias = (n: NodeName) => `${world.nodes[n]!.ns}-r`;
    h = await startHarness({
      secondary: true,
      ...(opts.masters ? { masters: opts.masters } : {}),
      sim: {
        nodes: [...NODES],
        vms: [
          {
            vmid: VMID,
            node: "pve1",
            // What a guest agent reports: loopback first, then the VM network.
            agent: [
              {
                name: "lo",
                "ip-addresses": [{ "ip-address": "127.0.0.1", "ip-address-type": "ipv4", prefix: 8 }],
              },
              {
                name: "eth0",
                "hardware-address": "bc:24:11:00:00:65",
                "ip-addresses": [
                  { "ip-address": vmIp, "ip-address-type": "ipv4", prefix: 16 },
                  { "ip-address": "fe80::be24:11ff:fe00:65", "ip-address-type": "ipv6", prefix: 64 },
                ],
              },
            ],
          },
        ],
        migrationDelayMs: opts.migrationDelayMs ?? 1500,
      },
      config: (d, ctx) => {
        // Every node's endpoint, so the API stays reachable while one node is down.
        (d.proxmox as Record<string, unknown>).endpoints = NODES.map((n) => ctx.sim.urls[n]);
        d.nodes = Object.fromEntries(
          NODES.map((n) => {
            const w = world.nodes[n]!;
            // vmGateway: each node's address on its VM bridge, never a VM's address.
            return [
              n,
              {
                publicIPv4: w.publicIp,
                privateIP: w.meshIp,
                publicInterface: w.publicIf,
                vmGateway: w.vmGateway,
              },
            ];
          }),
        );
        d.vmNetwork = world.vmNetwork;
        d.nat = { backend: "nftables", table: "pvemigrate" };
        (d.proxy as Record<string, unknown>).backend = "haproxy";
        d.graceSeconds = opts.graceSeconds ?? 4;
        // Grace also lasts until every server agrees plus the TTL of the last
        // old answer (lib/desired/ttl.ts graceEndsAt): a TTL under graceSeconds
        // keeps the timer the end, as it is with the defaults (120 s, 60 s).
        (d.dns as Record<string, unknown>).ttl = 2;
        // A worker whose migration never finishes must not outlive the test run by an hour.
        d.migrationWatchSeconds = 60;
        (d.remote as Record<string, unknown>).netns = Object.fromEntries(NODES.map((n) => [n, alias(n)]));
        d.vms = {
          [VMID]: {
            ip: opts.ipSource === "agent" ? "agent" : vmIp,
            dns: [VM_NAME],
            forward: ["tcp/2222:22", "udp/51820:5353"],
            sni: [VM_NAME],
            http: [VM_NAME],
          },
        };
        opts.config?.(d, ctx);
      },
    });
    const harness = h;
    const bundleDir = join(harness.dir, "dist");
    const haproxies = new Map<NodeName, ChildProcessWithoutNullStreams>();
    const aliases = new Set<string>();
    const attach = async (n: NodeName) => {
      const r = await run(["ip", "netns", "attach", alias(n), String(haproxies.get(n)!.pid)]);
      if (r.code !== 0) throw new Error(`ip netns attach ${alias(n)}: ${r.stderr.trim()}`);
      aliases.add(alias(n));
    };
    const detach = async (n: NodeName) => {
      await run(["ip", "netns", "del", alias(n)]);
      aliases.delete(alias(n));
    };
    // Only the public link: taking the mesh down would make the kernel drop the
    // routes through it, and the world could not be put back as it was.
    const publicLink = (n: NodeName, state: "up" | "down") =>
      world.sh(world.nodes[n]!.ns, ["ip", "link", "set", world.nodes[n]!.publicIf, state]);
    for (const n of NODES) {
      // `ip netns exec` runs haproxy in place of itself: its pid lives in the node's namespace.
      haproxies.set(n, await startHaproxy(world, harness.runtime(n), world.nodes[n]!.ns, true));
      await attach(n);
    }

    const cluster: NetnsCluster = {
      h: harness,
      world,
      vmIp,
      publicIp: (n) => world.nodes[n]!.publicIp,
      ns: (n) => world.nodes[n]!.ns,
      runtime: (n) => harness.runtime(n),
      cli: (node, args, o = {}) =>
        run(
          [
            process.execPath,
            join(bundleDir, "pvemigrate-dns.mjs"),
            "--config",
            o.configFile ?? harness.configFile,
            ...args,
            "--node",
            node,
          ],
          { timeoutMs: 90_000 },
        ),
      async hook(node, phase, env = {}) {
        const t0 = Date.now();
        const r = await run([process.execPath, join(bundleDir, "hookscript.cjs"), String(VMID), phase], {
          timeoutMs: 30_000,
          env: {
            ...process.env,
            PVEMIGRATE_DNS_CONFIG: harness.configFile,
            PVEMIGRATE_DNS_NODE: node,
            ...env,
          },
        });
        return { ...r, ms: Date.now() - t0 };
      },
      async nodeDown(node) {
        await publicLink(node, "down");
        await harness.sim.setNodeOnline(node, false);
        await detach(node);
      },
      async restartHaproxy(node) {
        const old = haproxies.get(node)!;
        if (old.exitCode === null && old.signalCode === null) {
          const gone = new Promise((r) => old.once("exit", r));
          old.kill("SIGKILL");
          await gone;
        }
        haproxies.set(node, await startHaproxy(world, harness.runtime(node), world.nodes[node]!.ns, false));
      },
      async nodeUp(node) {
        await publicLink(node, "up");
        await harness.sim.setNodeOnline(node, true);
        await attach(node);
      },
      workerLog(node) {
        try {
          return readFileSync(join(harness.runtime(node).config.stateDir, "worker.log"), "utf8");
        } catch {
          return "";
        }
      },
      dnsA: () => dig(harness.primary.port, VM_NAME, "A", harness.primary.host),
      async nftTable(node) {
        const r = await world.exec(world.nodes[node]!.ns, ["nft", "list", "table", "ip", "pvemigrate"]);
        return r.code === 0 ? r.stdout : "";
      },
      async sniMap(node) {
        const sock = harness.runtime(node).config.proxy;
        const out = await haproxyCommand(sock.socket, `show map ${join(sock.mapDir, "sni.map")}`);
        // "0x55d0... mail.example.org 10.10.1.101:443" -> "mail.example.org 10.10.1.101:443"
        return out
          .split("\n")
          .map((l) => l.trim().split(/\s+/).slice(1).join(" "))
          .filter((l) => l !== "")
          .join("\n");
      },
      tcp: (node) =>
        probe(world, world.client.ns, {
          kind: "tcp",
          host: world.nodes[node]!.publicIp,
          port: 2222,
          payload: "hi",
          timeoutMs: 2000,
        }),
      udp: (node) =>
        probe(world, world.client.ns, {
          kind: "udp",
          host: world.nodes[node]!.publicIp,
          port: 51820,
          payload: "ping",
          timeoutMs: 2000,
        }),
      tls: (node) =>
        probe(world, world.client.ns, {
          kind: "tls",
          host: world.nodes[node]!.publicIp,
          port: 443,
          servername: VM_NAME,
          timeoutMs: 2000,
        }),
      http: (node) =>
        probe(world, world.client.ns, {
          kind: "http",
          host: world.nodes[node]!.publicIp,
          port: 80,
          hostHeader: VM_NAME,
          timeoutMs: 2000,
        }),
      async moveVm(node) {
        harness.sim.moveVm(VMID, node);
        if (world.vms.vm101!.node !== node) await world.moveVm("vm101", node);
      },
      freezeMasters(frozen) {
        const dirs = [harness.primary.dir, ...(harness.secondary ? [harness.secondary.dir] : [])];
        for (const pid of dirs.flatMap(pidsMentioning)) process.kill(pid, frozen ? "SIGSTOP" : "SIGCONT");
      },
      killStrays() {
        for (const pid of pidsMentioning(harness.dir)) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {}
        }
      },
      async stop() {
        cluster.freezeMasters(false);
        cluster.killStrays();
        for (const a of aliases) await run(["ip", "netns", "del", a]);
        await world.destroy();
        await harness.stop();
      },
    };
    return cluster;
  } catch (err) {
    for (const n of NODES) await run(["ip", "netns", "del", `${world.nodes[n]!.ns}-r`]);
    await world.destroy();
    await h?.stop();
    throw err;
  }
}
