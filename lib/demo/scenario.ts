import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { stringify } from "yaml";
import { loadConfig } from "../config/load.ts";
import { computeDesired } from "../desired/compute.ts";
import type { NodeDesired } from "../desired/types.ts";
import { messageOf } from "../errors.ts";
import { preflight, runMigration } from "../orchestrate/migrate.ts";
import { observe } from "../orchestrate/observe.ts";
import { reconcile } from "../orchestrate/reconcile.ts";
import { createRuntime, type Runtime } from "../orchestrate/runtime.ts";
import { run } from "../process/run.ts";
import { startSimCluster } from "../sim/cluster.ts";
import { type Cleanups, createCleanups, deleteNamespaces, killProcessesMentioning } from "./cleanup.ts";
import { NODES, SIM_VMS, VMS, ZONE } from "./cluster-fixture.ts";
import { runHooksInProcess } from "./hooks.ts";
import { startInProcessMaster } from "./inprocess-master.ts";
import { type DemoMaster, findNamed, startDemoNamed } from "./named.ts";

// `pvemigrate-dns demo`: the whole product on one machine, no root needed.
// A simulated 3-node cluster with the example VMs, a real BIND master on
// loopback, the real orchestrator. It runs a live migration and an HA
// recovery and shows, after each step, where the names point and what every
// node forwards and routes. As root, each node's nft table is really applied
// inside a network namespace of its own; otherwise the rendered plan is shown.

export interface DemoOptions {
  out: (line: string) => void;
  /** Apply nft inside network namespaces (needs root and nft); default: when possible. */
  netns?: boolean;
  /** How to run this CLI on "another node" (the demo's nodes are local processes). */
  cliCommand: string[];
  /** DNS master: BIND's named when installed (default), else the in-process signed-update master. */
  master?: "named" | "in-process";
  /** Where the demo registers what it must undo (idempotent steps); the CLI also runs them on a signal (cleanup.ts). */
  cleanups?: Cleanups;
}

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await sleep(50);
}

async function canUseNetns(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  const r = await run(["nft", "--version"]).catch(() => undefined);
  return r?.code === 0;
}

function describeNode(n: NodeDesired, now: number): string[] {
  const grace = (until?: number) => (until ? ` (grace, ${Math.ceil((until - now) / 1000)}s left)` : "");
  return [
    ...n.forwards.map(
      (f) => `${f.proto}/${f.publicPort} -> ${f.target}:${f.targetPort} (VM ${f.vmid})${grace(f.graceUntil)}`,
    ),
    ...(n.publicIPv6 ? n.forwards : []).flatMap((f) =>
      f.target6
        ? [
            `ip6 ${f.proto}/${f.publicPort} -> [${f.target6}]:${f.targetPort} (VM ${f.vmid})${grace(f.graceUntil)}`,
          ]
        : [],
    ),
    ...n.routes.map(
      (r) => `${r.kind} ${r.name} -> ${r.target}:${r.targetPort} (VM ${r.vmid})${grace(r.graceUntil)}`,
    ),
  ];
}

export async function runDemo(opts: DemoOptions): Promise<number> {
  const out = opts.out;
  const cleanups = opts.cleanups ?? createCleanups();
  const dir = await mkdtemp(join(tmpdir(), "pvemigrate-demo-"));
  cleanups.add(() => rm(dir, { recursive: true, force: true }));
  // Run before the rm (newest first): the hook workers the demo's hooks
  // detach run the CLI copied into `dir`, and one still running would write
  // into it again after the rm.
  cleanups.add(async () => killProcessesMentioning(dir));
  // The demo's config cache stays in its temp dir, for this process (loadConfig's
  // cacheDir below) and for the CLI processes it starts (they inherit the env).
  const cacheDir = join(dir, "config-cache");
  if (!process.env.PVEMIGRATE_DNS_CACHE_DIR) {
    process.env.PVEMIGRATE_DNS_CACHE_DIR = cacheDir;
    cleanups.add(async () => {
      delete process.env.PVEMIGRATE_DNS_CACHE_DIR;
    });
  }
  const useNetns = opts.netns ?? (await canUseNetns());
  const namespaces: Record<string, string> = {};
  try {
    const tsigSecret = randomBytes(32).toString("base64");
    // The sim moves guest configs in the same pmxcfs tree the nodes read (pveRoot below).
    const sim = await startSimCluster({
      nodes: Object.keys(NODES),
      vms: SIM_VMS,
      migrationDelayMs: 1500,
      pveRoot: join(dir, "pve"),
    });
    cleanups.add(() => sim.stop());
    const zoneSpec = {
      zone: ZONE,
      keyName: "pvemigrate-key",
      algorithm: "hmac-sha256",
      secret: tsigSecret,
    } as const;
    // README's first command must work without bind9: then the master is in-process.
    const named = opts.master === "in-process" ? undefined : await findNamed();
    if (!named && opts.master === "named")
      throw new Error(
        "the demo's named master was requested but BIND's named (Debian package bind9) is not installed",
      );
    const master: DemoMaster = named
      ? await startDemoNamed(named, dir, zoneSpec)
      : await startInProcessMaster(zoneSpec);
    cleanups.add(() => master.stop());
    if (useNetns) {
      const prefix = `pvmdemo${process.pid}-`;
      cleanups.add(() => deleteNamespaces(prefix));
      for (const node of Object.keys(NODES)) {
        const ns = `${prefix}${node}`;
        await run(["ip", "netns", "add", ns]);
        namespaces[node] = ns;
      }
    }
    await writeFile(join(dir, "token"), `${sim.tokenSecret}\n`, { mode: 0o600 });
    await writeFile(join(dir, "tsig"), `${tsigSecret}\n`, { mode: 0o600 });
    const doc = {
      proxmox: { endpoints: [sim.url], tokenId: sim.tokenId, tokenSecretFile: "token" },
      nodes: NODES,
      vmNetwork: "10.10.0.0/16",
      vmNetwork6: "fd10:10::/32",
      dns: {
        zone: ZONE,
        masters: [`127.0.0.1:${master.port}`],
        tsig: { name: "pvemigrate-key", algorithm: "hmac-sha256", secretFile: "tsig" },
        ttl: 60,
      },
      nat: { backend: useNetns ? "nftables" : "none", table: "pvemigrate" },
      proxy: {
        backend: "haproxy",
        socket: join(dir, "{node}", "haproxy.sock"),
        mapDir: join(dir, "{node}", "maps"),
      },
      graceSeconds: 120,
      stateDir: join(dir, "state", "{node}"),
      pveRoot: join(dir, "pve"),
      remote: { transport: "netns", command: opts.cliCommand, netns: namespaces },
      vms: VMS,
    };
    const configFile = join(dir, "cluster.yaml");
    await writeFile(configFile, stringify(doc));
    const loaded = await loadConfig(configFile, {
      cacheDir: process.env.PVEMIGRATE_DNS_CACHE_DIR || cacheDir,
    });
    const rt = (node: string): Runtime => createRuntime(loaded, { node, log: () => {} });

    const hooks = runHooksInProcess(sim, loaded, out);
    const hooksDone = () => hooks.done();

    out("pvemigrate-dns demo: 3 simulated Proxmox nodes (API on loopback), 5 VMs");
    const why = opts.master === "in-process" ? "requested" : "named not installed";
    out(
      master.kind === "named"
        ? `DNS master: real BIND named on 127.0.0.1:${master.port}, zone ${ZONE}, TSIG hmac-sha256`
        : `DNS master: in-process signed-update master (${why}) on 127.0.0.1:${master.port}, zone ${ZONE}, TSIG hmac-sha256`,
    );
    out(
      useNetns
        ? `node backends: nft tables applied in network namespaces ${Object.values(namespaces).join(", ")}; HAProxy map files written (no haproxy running)`
        : "node backends: shown as the rendered plan (run as root with nftables installed to apply them in network namespaces)",
    );

    const show = async (title: string) => {
      out("");
      out(`== ${title}`);
      const world = await observe(rt("pve1"), { resolveOn: Object.keys(NODES) });
      const now = Date.now();
      const desired = computeDesired(world.config, world.placements, world.departures, now, world.moves);
      for (const p of world.placements)
        out(`   VM ${p.vmid} ${p.status} on ${p.node}${p.ip ? ` (${p.ip})` : ""}`);
      out("   DNS at the master:");
      for (const name of Object.values(VMS).flatMap((v) => v.dns)) {
        try {
          const r = await rt("pve1").dns.query(name);
          out(`     ${name.padEnd(20)} ${[...r.a, ...r.aaaa].join(", ") || "(no address)"}`);
        } catch (err) {
          out(`     ${name.padEnd(20)} ? ${messageOf(err)}`);
        }
      }
      for (const [node, n] of Object.entries(desired.nodes)) {
        const online = world.snapshot.nodes.find((s) => s.name === node)?.online ? "" : " [OFFLINE]";
        out(`   ${node} ${n.publicIPv4}${n.publicIPv6 ? ` ${n.publicIPv6}` : ""}${online}:`);
        for (const line of describeNode(n, now)) out(`     ${line}`);
        if (useNetns && namespaces[node]) {
          const r = await run([
            "ip",
            "netns",
            "exec",
            namespaces[node],
            "nft",
            "list",
            "table",
            "ip",
            "pvemigrate",
          ]);
          const rules = (r.stdout.match(/ : /g) ?? []).length;
          out(
            `     (nft table in ${namespaces[node]}: ${r.code === 0 ? `${rules} map elements applied` : "absent"})`,
          );
        }
      }
    };

    out("");
    out("-- step 1: the timer's reconcile runs on every node: forwards, routes and names are set up");
    for (const node of Object.keys(NODES)) {
      const r = await reconcile(rt(node));
      const switched = r.switched.map((s) => `VM ${s.vmid}`).join(", ") || "none";
      out(`   ${node}: switched ${switched}; errors: ${r.errors.join("; ") || "none"}`);
    }
    await show("after step 1");

    out("");
    out("-- step 2: live migration of VM 101 (mail) pve1 -> pve2 through the API");
    const plan = await preflight(rt("pve1"), 101, "pve2");
    const t0 = Date.now();
    const progress = (line: string) => out(`   [${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`);
    // The demo shows the TTL choreography but does not sit out the old TTL.
    const skipWait = async (ms: number) => progress(`(the demo skips the ${ms / 1000} s wait)`);
    const summary = await runMigration(rt("pve1"), plan, progress, { sleep: skipWait });
    await hooksDone();
    out(
      `   migrated in ${summary.taskSeconds?.toFixed(1)}s; public face switched ${summary.switchSeconds?.toFixed(2)}s after the task ended`,
    );
    for (const line of summary.verified?.dns ?? []) out(`   verified: ${line}`);
    out(`   forwards and routes in place on pve2: ${summary.verified?.forwardsInPlace ? "yes" : "NO"}`);
    await show("after step 2 (pve1 keeps grace forwards to 10.10.1.101 over the mesh for 120 s)");

    out("");
    out(
      "-- step 3: pve2 fails; the HA stack recovers VM 104 (game) on pve3: its LRM starts it there, no hook runs on pve2",
    );
    await sim.setNodeOnline("pve2", false);
    if (useNetns && namespaces.pve2) await run(["ip", "netns", "del", namespaces.pve2]);
    sim.recoverVm(104, "pve3");
    // The LRM starts it after a moment: its post-start hook's worker switches it.
    await waitFor(() => sim.state.vm(104).status === "running");
    // pvestatd's next broadcast (every 10 s on a real node) shows it running in
    // /cluster/resources; the demo does not wait the 10 s, nor leaves it to chance.
    sim.tickRrd();
    await hooksDone();
    const last = await rt("pve3").state.lastApplied.get(104);
    out(`   VM 104 switched to ${last?.node ?? "?"} by its post-start hook's worker`);
    const r3 = await reconcile(rt("pve3"));
    if (r3.pending.includes("node:pve2")) out("   old node pve2 unreachable: journaled (node:pve2)");
    out(`   still pending: ${r3.pending.join(", ") || "nothing"}`);
    await show("after step 3");

    out("");
    out("-- step 4: pve2 comes back; its own reconcile drops what it no longer hosts");
    await sim.setNodeOnline("pve2", true);
    if (useNetns && namespaces.pve2) await run(["ip", "netns", "add", namespaces.pve2]);
    const r4 = await reconcile(rt("pve2"));
    out(`   pve2 finished from the journal: ${r4.drained.done.join(", ") || "nothing"}`);
    out(`   pending now: ${r4.pending.join(", ") || "nothing"}`);
    await show("after step 4");
    await hooksDone();
    out("");
    out("demo finished: every name points at the node hosting its VM.");
    return 0;
  } finally {
    await cleanups.run();
  }
}
