import { missingConfiguredVms } from "../cluster/index.ts";
import { computeDesired } from "../desired/compute.ts";
import { InputError } from "../errors.ts";
import { createNatBackend } from "../nat/backend.ts";
import { localNodeName } from "../node-name.ts";
import { holdUnresolved, planNode } from "../plan/index.ts";
import { assertSafe, type SafetyLimit } from "../plan/safety.ts";
import { type Change, describeChange } from "../plan/types.ts";
import { createProxyBackend, servingRoutes } from "../proxy/backend.ts";
import { execOn } from "../remote/apply.ts";
import { unrecordedDepartures } from "./departures-due.ts";
import { type ObserveOptions, observe, type World } from "./observe.ts";
import type { Runtime } from "./runtime.ts";

// Converging one node: observe -> desired -> (nft, proxy) plan -> apply, all
// under the node's local lock, so a hook's worker and the timer's reconcile
// never interleave their reads and writes. Works on this node, or (netns
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
}

export interface ConvergeOptions extends ObserveOptions {
  dryRun?: boolean;
  /** Refuse (UnsafePlan, nothing applied) a plan over this share of the node's forwards and routes. */
  safety?: SafetyLimit;
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
  return rt.state.withLock(`node-${node}`, async () => {
    const world = await observe(rt, { ...opts, resolveOn: [node] });
    await noteUnrecordedDepartures(rt, world, node, opts.dryRun ?? false);
    return convergeObserved(rt, world, node, opts.dryRun ?? false, opts.safety);
  });
}

/** Records (unless a dry run) the departures from `node` nobody recorded yet (departures-due.ts). */
async function noteUnrecordedDepartures(
  rt: Runtime,
  world: World,
  node: string,
  dryRun: boolean,
): Promise<void> {
  if (!world.placements.some((p) => p.node !== node && p.status === "running")) return;
  // One listing, not one read per VM: this runs on every convergence.
  const due = unrecordedDepartures(
    node,
    world.placements,
    await rt.state.lastApplied.list(),
    world.departures,
    rt.now(),
  );
  for (const departure of due) {
    if (!dryRun) await rt.departures.add(departure);
    // Replaces an older departure of the same pair (from an earlier stay), as the store does.
    world.departures = [
      ...world.departures.filter((d) => d.vmid !== departure.vmid || d.node !== node),
      departure,
    ];
  }
}

export async function convergeObserved(
  rt: Runtime,
  world: World,
  node: string,
  dryRun: boolean,
  safety?: SafetyLimit,
): Promise<NodeConvergence> {
  const now = rt.now();
  const desired = computeDesired(world.config, world.placements, world.departures, now, world.moves);
  const nodeDesired = desired.nodes[node];
  if (!nodeDesired) throw new Error(`node ${node} is not in the config`);
  const exec = execOn(world.config, node);
  const nat = createNatBackend({ nat: world.config.nat, exec, clock: rt.now });
  const proxy = createProxyBackend({ proxy: world.config.proxy, exec });
  const natCurrent = await nat.current();
  const proxyCurrent = await proxy.current();
  const unresolvedHere = desired.unresolved
    .filter((u) => world.placements.some((p) => p.vmid === u.vmid && p.node === node))
    .flatMap((u) => world.config.vms[String(u.vmid)] ?? []);
  // A configured VM the snapshot does not list may run here unseen (no VM.Audit): keep what it has.
  const unseen = missingConfiguredVms(Object.keys(world.config.vms), world.snapshot).flatMap(
    (vmid) => world.config.vms[String(vmid)] ?? [],
  );
  const held = holdUnresolved(nodeDesired, [...unresolvedHere, ...unseen], {
    forwards: natCurrent.forwards,
    routes: servingRoutes(proxyCurrent),
  });
  const plan = planNode(
    held,
    { backend: nat, current: natCurrent },
    { backend: proxy, current: proxyCurrent },
    now,
  );
  const changes = plan.changes.map(describeChange);
  if (safety && !dryRun) {
    const routes = servingRoutes(proxyCurrent);
    const managed =
      natCurrent.forwards.length + Object.keys(routes.sni).length + Object.keys(routes.http).length;
    assertSafe(plan.changes, managed, safety);
  }
  if (!dryRun) {
    await nat.apply(plan.nat);
    await proxy.apply(plan.proxy);
  }
  const warnings = [
    ...desired.unresolved
      .filter((u) => world.placements.some((p) => p.vmid === u.vmid && p.node === node))
      .map((u) => `VM ${u.vmid}: ${u.reason}`),
    ...desired.conflicts
      .filter((c) => c.node === node)
      .map((c) => `${c.key} on ${c.node}: kept for VM ${c.kept}, VM ${c.dropped} left out`),
    ...plan.warnings,
  ];
  for (const w of warnings) rt.log(w, "warning");
  if (changes.length && !dryRun) for (const line of changes) rt.log(`${node} ${line}`);
  return { node, plan: plan.changes, changes, applied: !dryRun && changes.length > 0, warnings };
}
