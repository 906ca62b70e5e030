import { expect } from "vitest";
import { z } from "zod";
import { unwrapEnvelope } from "../../lib/envelope.ts";
import type { RunResult } from "../../lib/process/run.ts";
import { ZONE } from "../e2e/harness.ts";
import {
  type NetnsCluster,
  NODES,
  type NodeName,
  startNetnsCluster,
  VM_NAME,
  VMID,
  waitFor,
} from "../e2e/netns-world.ts";
import { missing } from "../support/requirements.ts";
import { BOTH, type DnsFaultNamespace, startDnsFaultNamespace } from "./harness-dns.ts";
import { faultRuns, other } from "./harness-node.ts";
import { type FaultRow, type FaultRun, recordRow } from "./matrix.ts";
import type { FaultSuiteOptions } from "./suite.ts";

// One row of the fault matrix's DNS and network part, run `runs` times: with
// the fault on, a live migration (Proxmox's hooks on the target, the detached
// worker switching) and a timer's reconcile; then the fault ends and the
// timers run until the final state holds, or give up. The final state: the
// VM's name at its new node at every master (read from named itself), no
// change left for `plan` on any node (forwards and routes), both journals
// empty, the VM reachable through its new node. What others own (a foreign
// name, the apex MX, the admin's nft table) must be as it was: a change there
// is a clobber. Every run alternates the direction pve1 <-> pve2.

export const FOREIGN_RECORDS = [
  "legacy IN A 192.0.2.7",
  'legacy IN TXT "owned by someone else"',
  "@ IN MX 10 legacy",
];
const ADMIN_TABLE = [
  "add table inet admin",
  "add chain inet admin input { type filter hook input priority 10; }",
  "add rule inet admin input tcp dport 9 counter accept",
].join("\n");

/** Runs per row: one in `npm test` (the suite's time), more in `npm run soak`. */
export const RUNS = faultRuns(1);
/** A row's test timeout: a faulty run takes up to ~40 s on a loaded 2-core machine. */
export const ROW_TIMEOUT_MS = 60_000 + RUNS * 60_000;
const NEEDS = { root: true, bins: ["named", "dig", "tsig-keygen", "nft", "haproxy", "ip", "openssl"] };

export interface FaultCluster {
  c: NetnsCluster;
  dns: DnsFaultNamespace;
  /** Where the VM runs now (each run moves it). */
  at: NodeName;
  stop(): Promise<void>;
}

export async function startFaultCluster(): Promise<FaultCluster> {
  const dns = await startDnsFaultNamespace({ zone: ZONE, records: FOREIGN_RECORDS });
  try {
    const c = await startNetnsCluster({
      graceSeconds: 60,
      migrationDelayMs: 800,
      masters: { key: dns.key, primary: dns.master.primary, secondary: dns.master.secondary },
      config: (d) => {
        // Switches wait for every reachable master to agree; bounded so a faulty run stays short.
        (d.dns as Record<string, unknown>).propagation = { waitSeconds: 2 };
      },
    });
    for (const n of NODES) await c.world.sh(c.ns(n), ["nft", "-f", "-"], { input: ADMIN_TABLE });
    const first = await c.cli("pve1", ["reconcile", "--json"]);
    if (first.code !== 0) throw new Error(`initial reconcile: exit ${first.code}: ${first.stderr}`);
    return {
      c,
      dns,
      at: "pve1",
      async stop() {
        await c.stop();
        await dns.stop();
      },
    };
  } catch (err) {
    await dns.stop();
    throw err;
  }
}

/** A DNS-rows file's suite (faultSuite): skipped without NEEDS, its own masters and cluster. */
export const dnsCluster = (): FaultSuiteOptions<FaultCluster> => ({
  skip: missing(NEEDS),
  start: startFaultCluster,
});

/** What one run saw while the fault was on, for a row's own checks. */
export interface RunTrace {
  from: NodeName;
  to: NodeName;
  /** What the target's hook worker logged during this run. */
  workerLog: string;
  /** The timer's reconcile on the target, under the fault. */
  reconcile: Reconciled;
  final: Inspection;
}

export interface Inspection {
  lost: string[];
  clobbered: string[];
}

const planSchema = z.object({
  nodes: z.array(
    z.object({ node: z.string(), changes: z.array(z.object({ key: z.string() }).passthrough()) }),
  ),
  dns: z.object({ changes: z.array(z.object({ key: z.string() }).passthrough()) }),
  errors: z.array(z.string()),
});

async function snapshotForeign(f: FaultCluster): Promise<string[]> {
  const out: string[] = [];
  for (const which of BOTH) {
    for (const [name, type] of [
      [`legacy.${ZONE}`, "A"],
      [`legacy.${ZONE}`, "TXT"],
      [ZONE, "MX"],
    ] as const)
      out.push(`${which} ${name} ${type}: ${(await f.dns.answers(which, name, type)).join(" ")}`);
  }
  for (const n of NODES) {
    const r = await f.c.world.exec(f.c.ns(n), ["nft", "list", "table", "inet", "admin"]);
    out.push(`${n} admin table: ${/tcp dport 9 counter/.test(r.stdout) ? "present" : "gone"}`);
  }
  return out;
}

/** The names at every master and both journals: the cheap part of the final state. */
async function dnsAndJournal(f: FaultCluster, to: NodeName): Promise<string[]> {
  const { c, dns } = f;
  const lost: string[] = [];
  for (const which of BOTH) {
    const a = await dns.answers(which, VM_NAME, "A");
    if (a.join() !== c.publicIp(to)) lost.push(`${which} answers ${VM_NAME} A ${a.join(" ") || "nothing"}`);
  }
  for (const n of NODES) {
    const rt = c.runtime(n);
    for (const item of [...(await rt.state.cluster.list()), ...(await rt.state.local.list())])
      lost.push(`${n} journal: ${item.id}`);
  }
  return lost;
}

async function planShortfalls(f: FaultCluster, to: NodeName): Promise<string[]> {
  const plan = await f.c.cli(to, ["plan", "--json"]);
  const parsed = planSchema.safeParse(unwrapEnvelope(JSON.parse(plan.stdout || "{}")));
  if (!parsed.success) return [`plan unreadable (exit ${plan.code}): ${plan.stderr.trim()}`];
  return [
    ...parsed.data.nodes.flatMap((n) => n.changes.map((ch) => `${n.node} plan: ${ch.key}`)),
    ...parsed.data.dns.changes.map((ch) => `dns plan: ${ch.key}`),
    ...parsed.data.errors.map((e) => `plan error: ${e}`),
  ];
}

async function probeShortfalls(f: FaultCluster, to: NodeName): Promise<string[]> {
  const [tcp, tls] = await Promise.all([f.c.tcp(to), f.c.tls(to)]);
  return [
    ...(tcp.ok ? [] : [`tcp/2222 on ${to} does not reach the VM`]),
    ...(tls.ok ? [] : [`:443 on ${to} does not route ${VM_NAME}`]),
  ];
}

/**
 * The final state's shortfalls: each entry is one thing lost (or clobbered).
 * `plan` (every node's forwards and routes, the names) and the probes are
 * only worth running once the names and journals are right.
 */
export async function inspect(f: FaultCluster, to: NodeName, foreign: string[]): Promise<Inspection> {
  const [quick, now] = await Promise.all([dnsAndJournal(f, to), snapshotForeign(f)]);
  const clobbered = now.filter((line, i) => line !== foreign[i]);
  if (quick.length > 0) return { lost: quick, clobbered };
  const [plan, probes] = await Promise.all([planShortfalls(f, to), probeShortfalls(f, to)]);
  return { lost: [...plan, ...probes], clobbered };
}

export async function liveMigrate(f: FaultCluster, from: NodeName, to: NodeName): Promise<string> {
  const { c } = f;
  const logBefore = c.workerLog(to).length;
  const vm = c.h.sim.state.vm(VMID);
  c.h.sim.migrate(VMID, to, { online: true });
  const env = { PVE_MIGRATED_FROM: from };
  // Proxmox runs the target's start hooks when the incoming QEMU launches.
  for (const phase of ["pre-start", "post-start"]) {
    const r = await c.hook(to, phase, env);
    if (r.code !== 0) throw new Error(`hook ${phase} on ${to}: exit ${r.code}: ${r.stderr}`);
  }
  await waitFor("the sim to finish the migration", async () => vm.node === to && !vm.lock, 30_000);
  await c.world.moveVm("vm101", to);
  await waitFor(
    `${to}'s hook worker to finish`,
    async () => (await c.runtime(to).state.local.list()).length === 0,
    90_000,
    200,
  );
  return c.workerLog(to).slice(logBefore);
}

/** What a timer's reconcile under the fault answered: exit code, --json report, log. */
export type Reconciled = Pick<RunResult, "code" | "stdout" | "stderr">;

export interface RowSpec {
  fault: string;
  runs: number;
  inject(f: FaultCluster): Promise<void>;
  /** Ends the fault (default: every nft rule and relay delay goes). */
  lift?(f: FaultCluster): Promise<void>;
  /** Runs the live migration under the fault (default: the hooks and their detached worker); returns its log. */
  migrate?(f: FaultCluster, from: NodeName, to: NodeName): Promise<string>;
  /** The timer's reconcile on `to` under the fault (default: the CLI bundle). */
  reconcile?(f: FaultCluster, to: NodeName): Promise<Reconciled>;
  /** The row's own checks while the fault is still on (after the migration and the reconcile). */
  during?(f: FaultCluster, trace: Omit<RunTrace, "final">): Promise<void>;
}

/** Runs the row, records it for the matrix table, and returns it with each run's trace. */
export async function runRow(f: FaultCluster, spec: RowSpec): Promise<{ row: FaultRow; traces: RunTrace[] }> {
  const runs: FaultRun[] = [];
  const traces: RunTrace[] = [];
  for (let i = 0; i < spec.runs; i++) {
    const from = f.at;
    const to = other(from);
    const t = Date.now();
    const dbg = (what: string) =>
      process.env.PVEMIGRATE_FAULT_DEBUG && console.log(`${spec.fault} #${i} ${what} +${Date.now() - t} ms`);
    const foreign = await snapshotForeign(f);
    dbg("snapshot");
    await spec.inject(f);
    let workerLog: string;
    let reconcile: Reconciled;
    try {
      workerLog = await (spec.migrate ?? liveMigrate)(f, from, to);
      dbg("migrated");
      f.at = to;
      reconcile = await (
        spec.reconcile ?? ((x: FaultCluster, n: NodeName) => x.c.cli(n, ["reconcile", "--json"]))
      )(f, to);
      dbg(`reconciled ${reconcile.code}`);
      await spec.during?.(f, { from, to, workerLog, reconcile });
    } finally {
      await (spec.lift ?? ((x: FaultCluster) => x.dns.clear()))(f);
    }
    const lifted = Date.now();
    let checkedAt = lifted;
    let final = await inspect(f, to, foreign);
    dbg(`inspected: ${final.lost.length} lost, ${final.clobbered.length} clobbered`);
    // The timers of both nodes, until the final state holds (a real timer fires every minute).
    for (let round = 0; round < 4 && final.lost.length + final.clobbered.length > 0; round++) {
      // The new node's timer first; the old node's too when that was not enough.
      for (const n of round === 0 ? [to] : [to, from]) await f.c.cli(n, ["reconcile", "--json"]);
      checkedAt = Date.now();
      final = await inspect(f, to, foreign);
    }
    const converged = final.lost.length === 0 && final.clobbered.length === 0;
    runs.push({
      converged,
      lost: final.lost.length,
      clobbered: final.clobbered.length,
      convergeMs: checkedAt - lifted,
    });
    traces.push({ from, to, workerLog, reconcile, final });
  }
  const row = { fault: spec.fault, runs };
  recordRow(row);
  return { row, traces };
}

/** Every run of a row ended in the final state (nothing lost or clobbered) and converged. */
export function expectConverged({ row, traces }: { row: FaultRow; traces: RunTrace[] }): void {
  for (const t of traces)
    expect(t.final, `${t.from} -> ${t.to}\n${t.workerLog}`).toEqual({ lost: [], clobbered: [] });
  expect(row.runs.every((r) => r.converged)).toBe(true);
}
