import { expect } from "vitest";
import { run } from "../../lib/process/run.ts";
import { haproxyCommand } from "../../lib/proxy/admin-socket.ts";
import {
  type NetnsCluster,
  type NetnsClusterOptions,
  NODES,
  type NodeName,
  startNetnsCluster,
  VM_NAME,
  VMID,
  waitFor,
} from "../e2e/netns-world.ts";
import { dig } from "../support/named.ts";
import { missing } from "../support/requirements.ts";
import { type FaultRow, type FaultRun, recordRow } from "./matrix.ts";
import type { FaultSuiteOptions } from "./suite.ts";

// What the node, process and state rows of the fault matrix share: the netns
// cluster (real named, nft and HAProxy) with things that are not ours in it (a
// foreign DNS record, an admin's nft table), a live migration driven the way
// Proxmox drives it (the task plus the target's hookscript), the final-state
// check every run ends with, and the loop that turns runs into a matrix row.
//
// "lost" counts what should be there and is not (a master answering the old
// address, a missing forward or route, a pending journal item);
// "clobbered" counts what others own and we changed (the foreign record, the
// admin's table).

/** Why the rows cannot run here (skipped with that reason), or undefined. */
export const notHere = () =>
  missing({
    root: true,
    bins: ["named", "dig", "nsupdate", "tsig-keygen", "nft", "haproxy", "ip", "openssl"],
  });

/** How many runs a row makes: its default in `npm test`, more in a soak. */
export const FAULT_RUNS_ENV = "PVEMIGRATE_FAULT_RUNS";

export function faultRuns(defaultRuns: number): number {
  const n = Number(process.env[FAULT_RUNS_ENV]);
  return Number.isInteger(n) && n > 0 ? n : defaultRuns;
}

export const FOREIGN_NAME = `keep.${VM_NAME.split(".").slice(1).join(".")}`;
export const FOREIGN_ADDRESS = "192.0.2.7";
/** The admin's own table, which Debian's nftables.service loads after its `flush ruleset`. */
export const ADMIN_TABLE = ["table", "inet", "admin"] as const;

export const other = (n: NodeName): NodeName => (n === "pve1" ? "pve2" : "pve1");

export async function startFaultCluster(opts: NetnsClusterOptions = {}): Promise<NetnsCluster> {
  const c = await startNetnsCluster({ graceSeconds: 20, migrationDelayMs: 300, ...opts });
  for (const n of NODES) await addAdminTable(c, n);
  // Written without our TXT: a name somebody else manages in the same zone.
  const upd = await run(["nsupdate"], {
    input: [
      `key ${c.h.key.algorithm}:${c.h.key.name} ${c.h.key.secret}`,
      `server 127.0.0.1 ${c.h.primary.port}`,
      `zone ${c.h.loaded.config.dns.zone}`,
      `update add ${FOREIGN_NAME} 300 A ${FOREIGN_ADDRESS}`,
      "send",
      "",
    ].join("\n"),
  });
  if (upd.code !== 0) throw new Error(`nsupdate: ${upd.stderr}`);
  const r = await c.cli("pve1", ["reconcile", "--json"]);
  expect(r.code, r.stderr).toBe(0);
  await waitFor("the secondary to follow", async () => (await final(c, "pve1")).ok);
  return c;
}

/** A node-rows file's suite (faultSuite): skipped where notHere(), its own fault cluster started with `opts`. */
export const nodeCluster = (opts?: NetnsClusterOptions): FaultSuiteOptions<NetnsCluster> => ({
  skip: notHere(),
  start: () => startFaultCluster(opts),
});

export async function addAdminTable(c: NetnsCluster, node: NodeName): Promise<void> {
  await c.world.sh(c.ns(node), ["nft", "add", ...ADMIN_TABLE]);
}

/** Where VM 101 runs now, per the sim. */
export const vmNode = (c: NetnsCluster): NodeName => c.h.sim.state.vm(VMID).node as NodeName;

/**
 * A live migration as Proxmox runs it: the task, the target's pre-start and
 * post-start hooks (whose detached worker switches once the task is over);
 * returns when the task finished and the VM's namespace is plugged into the target.
 */
export async function liveMigrate(
  c: NetnsCluster,
  to: NodeName,
  opts: {
    hooks?: boolean;
    env?: Record<string, string>;
    /** Runs after the hooks while the memory transfer is held: before the task ends and the worker switches. */
    whileHeld?: () => Promise<void>;
  } = {},
): Promise<void> {
  const vm = c.h.sim.state.vm(VMID);
  const from = vm.node;
  if (opts.whileHeld) c.h.sim.holdMigrations();
  c.h.sim.migrate(VMID, to, { online: true });
  try {
    if (opts.hooks ?? true) {
      const env = { PVE_MIGRATED_FROM: from, ...opts.env };
      for (const phase of ["pre-start", "post-start"]) {
        const r = await c.hook(to, phase, env);
        expect(r.code, `hook ${phase} on ${to}: ${r.stderr}`).toBe(0);
      }
    }
    await opts.whileHeld?.();
  } finally {
    if (opts.whileHeld) c.h.sim.releaseMigrations();
  }
  await waitFor(`the migration to ${to}`, async () => vm.node === to && !vm.lock, 20_000, 20);
  await c.world.moveVm("vm101", to);
}

/** Every journal's pending items, "where:id". */
export async function pendingWork(c: NetnsCluster): Promise<string[]> {
  const ids: string[] = [];
  for (const n of NODES) ids.push(...(await c.runtime(n).state.local.list()).map((i) => `${n}:${i.id}`));
  ids.push(...(await c.runtime("pve1").state.cluster.list()).map((i) => `cluster:${i.id}`));
  return ids.sort();
}

async function httpMap(c: NetnsCluster, node: NodeName): Promise<string> {
  const p = c.runtime(node).config.proxy;
  const out = await haproxyCommand(p.socket, `show map ${p.mapDir}/http.map`);
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/).slice(1).join(" "))
    .filter((l) => l !== "")
    .join("\n");
}

export interface FinalState {
  ok: boolean;
  lost: number;
  clobbered: number;
  problems: string[];
}

/**
 * The state every run must end in with VM 101 on `node`: its name at every
 * master, its forwards and routes on `node` (and reachable), none of its
 * permanent forwards on the other node, nothing pending; and what is not ours
 * untouched.
 */
export async function final(c: NetnsCluster, node: NodeName): Promise<FinalState> {
  const problems: string[] = [];
  let lost = 0;
  let clobbered = 0;
  const miss = (what: string) => {
    lost++;
    problems.push(`lost: ${what}`);
  };
  const masters = [c.h.primary, ...(c.h.secondary ? [c.h.secondary] : [])];
  for (const m of masters) {
    const a = await dig(m.port, VM_NAME, "A").catch(() => ["(no answer)"]);
    if (a.join() !== c.publicIp(node)) miss(`${VM_NAME} A at :${m.port} is ${a.join() || "empty"}`);
    const f = await dig(m.port, FOREIGN_NAME, "A").catch(() => ["(no answer)"]);
    if (f.join() !== FOREIGN_ADDRESS) {
      clobbered++;
      problems.push(`clobbered: ${FOREIGN_NAME} A at :${m.port} is ${f.join() || "empty"}`);
    }
  }
  const table = await c.nftTable(node);
  if (!/2222 : 10\.10\.1\.101 \. 22/.test(table)) miss(`tcp/2222 forward on ${node}`);
  if (!/51820 : 10\.10\.1\.101 \. 5353/.test(table)) miss(`udp/51820 forward on ${node}`);
  const sni = await c.sniMap(node).catch(() => "");
  if (sni !== `${VM_NAME} 10.10.1.101:443`) miss(`SNI route on ${node} (${sni || "none"})`);
  const http = await httpMap(c, node).catch(() => "");
  if (http !== `${VM_NAME} 10.10.1.101:80`) miss(`HTTP route on ${node} (${http || "none"})`);
  if (problems.length === 0) {
    const tcp = await c.tcp(node);
    if (!tcp.ok) miss(`tcp/2222 on ${node} does not reach the VM`);
  }
  // The old node: grace entries (they expire) at most, never the VM's permanent forward.
  const onOld = await c.nftTable(other(node));
  for (const line of onOld.split("\n").filter((l) => l.includes("10.10.1.101 . 22"))) {
    if (!/timeout|expires/.test(line)) problems.push(`${other(node)} still forwards permanently: ${line}`);
  }
  for (const id of await pendingWork(c)) miss(`journal item ${id} pending`);
  if ((await c.runtime(node).state.lastApplied.get(VMID))?.node !== node)
    problems.push(`last-applied does not name ${node}`);
  for (const n of NODES) {
    const tables = await c.world.sh(c.ns(n), ["nft", "list", "tables"]);
    if (!tables.includes(ADMIN_TABLE.join(" "))) {
      clobbered++;
      problems.push(`clobbered: ${n}'s ${ADMIN_TABLE.join(" ")}`);
    }
  }
  return { ok: problems.length === 0, lost, clobbered, problems };
}

/**
 * After the fault: the timers' reconciles on both nodes, then the final state, polled while the hook's worker may still be
 * finishing. A second round of reconciles stands for the timer's next tick.
 */
export async function settle(c: NetnsCluster, node: NodeName, since: number): Promise<FaultRun & FinalState> {
  let state: FinalState = { ok: false, lost: 0, clobbered: 0, problems: [] };
  for (let tick = 0; tick < 2 && !state.ok; tick++) {
    // The nodes' timers are not in step: both reconciles at once.
    const runs = await Promise.all([node, other(node)].map((n) => c.cli(n, ["reconcile", "--json"])));
    const failed = runs.flatMap((r, i) =>
      [0, 3].includes(r.code ?? -1)
        ? []
        : [`reconcile on ${[node, other(node)][i]}: exit ${r.code}: ${r.stderr}`],
    );
    state = await waitFor(
      `the final state on ${node}`,
      async () => {
        const s = await final(c, node);
        return s.ok ? s : undefined;
      },
      10_000,
      200,
    ).catch(() => final(c, node));
    state.problems.push(...failed);
    state.ok &&= failed.length === 0;
  }
  return { ...state, converged: state.ok, convergeMs: Date.now() - since };
}

export type CheckedRun = FaultRun & { problems?: string[] };

/** Records the row for the table, then asserts every run converged with nothing lost or clobbered. */
export function finishRow(fault: string, runs: CheckedRun[]): FaultRow {
  const row: FaultRow = {
    fault,
    runs: runs.map((r) => ({
      converged: r.converged,
      lost: r.lost,
      clobbered: r.clobbered,
      convergeMs: r.convergeMs,
    })),
  };
  recordRow(row);
  const problems = runs.flatMap((r, i) => (r.problems ?? []).map((p) => `run ${i}: ${p}`));
  expect(problems, fault).toEqual([]);
  expect(
    row.runs.map((r) => [r.converged, r.lost, r.clobbered]),
    fault,
  ).toEqual(row.runs.map(() => [true, 0, 0]));
  return row;
}

/** Runs a row: `runs` times `one(i)`, then finishRow. */
export async function runRow(
  fault: string,
  runs: number,
  one: (i: number) => Promise<CheckedRun>,
): Promise<FaultRow> {
  const results: CheckedRun[] = [];
  for (let i = 0; i < runs; i++) results.push(await one(i));
  return finishRow(fault, results);
}
