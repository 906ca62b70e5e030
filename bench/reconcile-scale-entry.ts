// One size of bench/reconcile-scale.ts, in its own process, so its peak RSS
// (getrusage maxrss) is the reconcile's own: the simulated cluster and the DNS
// master live in the parent. Times the pure path (config load, desired state,
// one node's nft + HAProxy plan against the same state already applied) and a
// whole steady `reconcile` of pve1 with the current orchestrator; prints one
// JSON line. Not a benchmark by itself (bench/run.ts skips *-entry.ts).
// The config is loaded as a steady timer run finds it (the cache valid: see
// lib/config/cache.ts) and, timed apart, as after an edit (no cache entry).
// Where memory goes: process.memoryUsage() after each stage; with --expose-gc
// (BENCH_SCALE_RETAINED=1 in the parent) also the heap still reachable then.
//   node --import tsx bench/reconcile-scale-entry.ts <config file> <guests>
import { rm } from "node:fs/promises";
import { getSnapshot } from "../lib/cluster/snapshot.ts";
import { configCacheFile } from "../lib/config/cache.ts";
import { loadConfig } from "../lib/config/load.ts";
import { computeDesired, type VmPlacement } from "../lib/desired/compute.ts";
import { createNatBackend } from "../lib/nat/backend.ts";
import type { NatCurrent } from "../lib/nat/parse.ts";
import { layoutLines, setElements, tableLayout } from "../lib/nat/render.ts";
import { natSpec } from "../lib/nat/spec.ts";
import { reconcile } from "../lib/orchestrate/reconcile.ts";
import { createRuntime } from "../lib/orchestrate/runtime.ts";
import { createProxyBackend } from "../lib/proxy/backend.ts";
import { haproxyMapFormat } from "../lib/proxy/haproxy.ts";
import { haproxyMapPath } from "../lib/proxy/haproxy-config.ts";
import { type ProxyCurrent, toTable } from "../lib/proxy/plan.ts";
import { routeSpec } from "../lib/proxy/routes.ts";

/** Memory after one stage of the run, MiB. */
export interface MemoryStage {
  stage: string;
  rss: number;
  heapUsed: number;
  /** Peak RSS so far. */
  maxRss: number;
  /** Heap still reachable (after a full GC): only with --expose-gc. */
  retained?: number;
}

export interface ScaleSample {
  guests: number;
  /** Config load with the cache valid (a steady timer run). */
  loadMs: number;
  /** Config load after an edit: yaml parse, schema, cross-check (no cache entry). */
  loadMissMs: number;
  memory: MemoryStage[];
  desiredMs: number;
  planMs: number;
  /** Changes the steady plan found: 0, or the bench is not measuring a steady state. */
  planChanges: number;
  reconcileMs?: number;
  reconcileErrors?: string[];
  /** The first (registry-writing) run's errors: a failed DNS step journals every guest's names. */
  warmupErrors?: string[];
  /** Proxmox API requests of the steady reconcile (a whole-cluster read is two). */
  reconcileRequests?: number;
  /** Peak resident set size of this process, MiB. */
  peakRssMiB: number;
}

const NODE = "pve1";
const MiB = 2 ** 20;
const memory: MemoryStage[] = [];

function mark(stage: string): void {
  const m = process.memoryUsage();
  const entry: MemoryStage = {
    stage,
    rss: m.rss / MiB,
    heapUsed: m.heapUsed / MiB,
    maxRss: process.resourceUsage().maxRSS / 1024,
  };
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    entry.retained = process.memoryUsage().heapUsed / MiB;
  }
  memory.push(entry);
}
mark("code loaded");

async function timed<T>(f: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await f();
  return { ms: performance.now() - t, value };
}

async function main(file: string, guests: number, withReconcile: boolean): Promise<ScaleSample> {
  // Each pure step runs twice and the second is timed: the growth shows the algorithm, not the JIT warming up.
  await loadConfig(file);
  await rm(configCacheFile(file), { force: true });
  const loadMiss = await timed(() => loadConfig(file));
  mark("config loaded (parsed)");
  const load = await timed(() => loadConfig(file));
  const { config } = load.value;
  mark("config loaded (cache)");
  const rt = createRuntime(load.value, { node: NODE, log: () => {} });
  // The snapshot is I/O (not in the pure figure); its placements are what observe() gives static-IP guests.
  const snapshot = await getSnapshot(rt.proxmox);
  const placements: VmPlacement[] = snapshot.vms.flatMap((vm) => {
    const c = config.vms[String(vm.vmid)];
    return c?.ip.kind === "static"
      ? [{ vmid: vm.vmid, node: vm.node, status: vm.status, ip: c.ip.address }]
      : [];
  });
  mark("cluster snapshot");
  if (placements.length !== guests) throw new Error(`bench: ${placements.length} of ${guests} guests placed`);
  const now = Date.now();
  computeDesired(config, placements, [], now);
  const desired = await timed(() => computeDesired(config, placements, [], now));
  const nodeDesired = desired.value.nodes[NODE]!;
  mark("desired state");

  // The node as if the same state had been applied: what a steady run reads back.
  const exec = async () => ({ code: 1, signal: null, stdout: "", stderr: "bench: no I/O" });
  const nat = createNatBackend({ nat: { ...config.nat, backend: "nftables" }, exec });
  const proxy = createProxyBackend({ proxy: { ...config.proxy, backend: "haproxy" }, exec });
  const spec = natSpec(nodeDesired, config.nat.table, now);
  const natCurrent: NatCurrent = {
    table: config.nat.table,
    exists: true,
    layout: layoutLines(tableLayout(spec, now, 4)),
    forwards: spec.forwards,
    sets: setElements(spec, now),
  };
  const routes = routeSpec(nodeDesired, now);
  const map = (kind: "sni" | "http") => ({
    path: haproxyMapPath(config.proxy.mapDir, kind),
    fileText: haproxyMapFormat.render(kind, routes[kind]),
    runtime: toTable(routes[kind]),
  });
  const proxyCurrent: ProxyCurrent = { backend: "haproxy", maps: { sni: map("sni"), http: map("http") } };
  nat.plan(nodeDesired, natCurrent, now);
  const plan = await timed(() => [
    nat.plan(nodeDesired, natCurrent, now),
    proxy.plan(nodeDesired, proxyCurrent, now),
  ]);

  mark("plans");
  const sample: ScaleSample = {
    guests,
    loadMs: load.ms,
    loadMissMs: loadMiss.ms,
    memory,
    desiredMs: desired.ms,
    planMs: plan.ms,
    planChanges: plan.value.reduce((n, p) => n + p.changes.length, 0),
    peakRssMiB: 0,
  };
  if (withReconcile) {
    // Steady: every guest here was switched here before (else reconcile switches each one).
    for (const p of placements.filter((x) => x.node === NODE)) {
      await rt.state.lastApplied.set({
        vmid: p.vmid,
        node: NODE,
        privateIPs: p.ip ? [p.ip] : [],
        publicIPs: [config.nodes[NODE]!.publicIPv4],
        names: config.vms[String(p.vmid)]!.dns,
      });
    }
    // The first run writes the registry of claimed names; the second is the steady one.
    sample.warmupErrors = (await reconcile(rt)).errors;
    mark("first reconcile");
    // Not steady: the next run would replay each guest's journaled names one by one.
    if (sample.warmupErrors.length > 0)
      return { ...sample, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
    const before = rt.proxmox.stats.requests;
    const run = await timed(() => reconcile(rt));
    sample.reconcileRequests = rt.proxmox.stats.requests - before;
    sample.reconcileMs = run.ms;
    sample.reconcileErrors = run.value.errors;
    mark("steady reconcile");
  }
  sample.peakRssMiB = process.resourceUsage().maxRSS / 1024;
  return sample;
}

const [file, guests, mode] = process.argv.slice(2);
if (!file || !guests) {
  process.stderr.write("usage: reconcile-scale-entry.ts <config file> <guests> [pure]\n");
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(await main(file, Number(guests), mode !== "pure"))}\n`);
