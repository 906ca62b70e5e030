import { missingConfiguredVms } from "../cluster/index.ts";
import { computeDesired } from "../desired/compute.ts";
import { holdUnresolved, type NodeCurrent, type NodePlan, planNode } from "../plan/index.ts";
import { type SafetyLimit, safetyVerdict } from "../plan/safety.ts";
import { servingRoutes } from "../proxy/backend.ts";
import type { World } from "./observe.ts";

// PURE: one node's plan from the observed world and what its backends read
// back: desired state -> the entries held for VMs we cannot see or resolve ->
// planNode -> the safety verdict, with the warnings a human needs. The same
// function serves `plan`, `apply --local [--dry-run]` and reconcile, so what
// they show is what is applied.

export interface NodePlanOutcome {
  plan: NodePlan;
  /** Problems the desired state carries (unresolved IPs, port conflicts), then the backends'. */
  warnings: string[];
  /** Set when the plan is over `safety` (the UnsafePlan message). */
  unsafe?: string;
}

export function planNodeFrom(
  world: Pick<World, "config" | "placements" | "departures" | "moves" | "snapshot">,
  node: string,
  current: NodeCurrent,
  now: number,
  safety?: SafetyLimit,
): NodePlanOutcome {
  const { config, placements } = world;
  const desired = computeDesired(config, placements, world.departures, now, world.moves);
  const nodeDesired = desired.nodes[node];
  if (!nodeDesired) throw new Error(`node ${node} is not in the config`);
  const here = (vmid: number) => placements.some((p) => p.vmid === vmid && p.node === node);
  const unresolvedHere = desired.unresolved
    .filter((u) => here(u.vmid))
    .flatMap((u) => config.vms[String(u.vmid)] ?? []);
  // A configured VM the snapshot does not list may run here unseen (no VM.Audit): keep what it has.
  const unseen = missingConfiguredVms(Object.keys(config.vms), world.snapshot).flatMap(
    (vmid) => config.vms[String(vmid)] ?? [],
  );
  const routes = servingRoutes(current.proxy);
  const held = holdUnresolved(nodeDesired, [...unresolvedHere, ...unseen], {
    forwards: current.nat.forwards,
    routes,
  });
  const plan = planNode(held, current, config, now);
  const warnings = [
    ...desired.unresolved.filter((u) => here(u.vmid)).map((u) => `VM ${u.vmid}: ${u.reason}`),
    ...desired.conflicts
      .filter((c) => c.node === node)
      .map((c) => `${c.key} on ${c.node}: kept for VM ${c.kept}, VM ${c.dropped} left out`),
    ...plan.warnings,
  ];
  const managed =
    current.nat.forwards.length + Object.keys(routes.sni).length + Object.keys(routes.http).length;
  const unsafe = safety ? safetyVerdict(plan.changes, managed, safety) : undefined;
  return { plan, warnings, ...(unsafe === undefined ? {} : { unsafe }) };
}
