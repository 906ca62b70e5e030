import type { NodeIo } from "../backend/types.ts";
import type { TakenLock } from "../cluster/run-snapshot.ts";
import type { Config } from "../config/types.ts";
import type { Departure, VmPlacement } from "../desired/compute.ts";
import { InputError } from "../errors.ts";
import { createNatBackend, type NatCurrent, type NatPlan } from "../nat/backend.ts";
import { localNodeName } from "../node-name.ts";
import type { SafetyLimit } from "../plan/safety.ts";
import { type Change, describeChange } from "../plan/types.ts";
import { createProxyBackend, type ProxyCurrent, type ProxyPlan } from "../proxy/backend.ts";
import { execOn } from "../remote/apply.ts";
import { type LastApplied, nodeLockName } from "../state/index.ts";
import { unrecordedDepartures } from "./departures-due.ts";
import { planNodeFrom } from "./node-plan.ts";
import { type ObserveOptions, observe } from "./observe.ts";
import { runStage } from "./pipeline.ts";
import { takenLock } from "./run-view.ts";
import type { Runtime } from "./runtime.ts";

// Converging one node, under the node's local lock (a hook's worker and the
// timer's reconcile never interleave their reads and writes):
//   plan:  observe -> desired -> read nft + proxy -> planNode -> safety verdict
//   apply: record the departures nobody recorded -> nft, proxy -> log
// (pipeline.ts: a dry run is the plan alone). Works on this node, or (netns
// transport) on a simulated node of this machine.

export interface NodeConvergence {
  node: string;
  /** The plan, as data; empty when the node already matched. */
  plan: Change[];
  /** The plan rendered, "nat: + tcp/2222 -> ..." style; empty when the node already matched. */
  changes: string[];
  applied: boolean;
  /** Problems the desired state carries: unresolved IPs, port conflicts between VMs. */
  warnings: string[];
  /** A dry run's plan over the safety threshold: why (a real run throws UnsafePlan instead). */
  unsafe?: string;
}

export interface ConvergeOptions extends ObserveOptions {
  dryRun?: boolean;
  /** Refuse (UnsafePlan, nothing applied) a plan over this share of the node's forwards and routes. */
  safety?: SafetyLimit;
  /** The run's one listing of last-applied records (run-view.ts); listed here when unset. */
  lastApplied?: () => Promise<LastApplied[]>;
}

interface NodeIoPair {
  nat: NodeIo<NatCurrent, NatPlan>;
  proxy: NodeIo<ProxyCurrent, ProxyPlan>;
}

export async function convergeNode(
  rt: Runtime,
  node: string,
  opts: ConvergeOptions = {},
): Promise<NodeConvergence> {
  // Under ssh a process only ever touches its own host: converging another
  // node here would write that node's table into this host's ruleset.
  if (rt.config.remote.transport === "ssh" && node !== localNodeName()) {
    throw new InputError(`--node: ${node} is not this host (${localNodeName()}); run it on ${node}`);
  }
  const { dryRun = false, safety, lastApplied, ...observeOpts } = opts;
  // The run's snapshot serves only if nobody held the lock since it was read (run-snapshot.ts).
  let lock: TakenLock | undefined;
  const run = await runStage(
    {
      locked: (fn) =>
        rt.state.withLock(nodeLockName(node), (lease) => {
          lock = takenLock("node", nodeLockName(node), rt.now(), lease);
          return fn();
        }),
      plan: async () => {
        const world = await observe(rt, { ...observeOpts, resolveOn: [node], ...(lock ? { lock } : {}) });
        const records = lastApplied ?? (() => rt.state.lastApplied.list());
        const departures = await departuresDue(rt, world, node, records);
        const io = nodeIo(world.config, node, rt.now);
        const current = { nat: await io.nat.read(), proxy: await io.proxy.read() };
        const planned = planNodeFrom(world, node, current, rt.now(), safety);
        return { ...planned, changes: planned.plan.changes, departures, io };
      },
      apply: async ({ plan, departures, io }) => {
        for (const d of departures) await rt.departures.add(d);
        await io.nat.apply(plan.nat);
        await io.proxy.apply(plan.proxy);
      },
    },
    { dryRun },
  );
  const { plan, warnings, unsafe } = run.plan;
  const changes = plan.changes.map(describeChange);
  for (const w of warnings) rt.log(w, "warning");
  if (run.applied) for (const line of changes) rt.log(`${node} ${line}`);
  return {
    node,
    plan: plan.changes,
    changes,
    applied: run.applied && changes.length > 0,
    warnings,
    ...(unsafe === undefined ? {} : { unsafe }),
  };
}

/** The node's backends, as the orchestrator uses them: read() and apply(plan), nothing else. */
function nodeIo(config: Config, node: string, clock: () => number): NodeIoPair {
  const exec = execOn(config, node);
  return {
    nat: createNatBackend({ nat: config.nat, exec, clock }),
    proxy: createProxyBackend({ proxy: config.proxy, exec }),
  };
}

/**
 * The departures from `node` nobody recorded yet (departures-due.ts), added
 * to `world` so the plan grace-forwards them; the apply records them.
 */
async function departuresDue(
  rt: Runtime,
  world: { placements: VmPlacement[]; departures: Departure[] },
  node: string,
  lastApplied: () => Promise<LastApplied[]>,
): Promise<Departure[]> {
  if (!world.placements.some((p) => p.node !== node && p.status === "running")) return [];
  // One listing, not one read per VM: this runs on every convergence.
  const due = unrecordedDepartures(node, world.placements, await lastApplied(), world.departures, rt.now());
  for (const departure of due) {
    // Replaces an older departure of the same pair (from an earlier stay), as the store does.
    world.departures = [
      ...world.departures.filter((d) => d.vmid !== departure.vmid || d.node !== node),
      departure,
    ];
  }
  return due;
}
