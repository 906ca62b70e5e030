import { messageOf } from "../errors.ts";
import type { Change } from "../plan/types.ts";
import { runOnNode } from "../remote/apply.ts";
import { remotePlan } from "../remote/reports.ts";
import { convergeNode } from "./converge.ts";
import { syncDns } from "./dns-sync.ts";
import type { Runtime } from "./runtime.ts";

// `plan`, cluster-wide (terraform plan, octoDNS' plan): every node's nft and
// proxy plan (this node here, the others through `apply --local --dry-run`,
// as reconcile would reach them) and the DNS plan of every configured VM.
// Nothing is changed; the result is the change objects themselves.

export interface NodePlanReport {
  node: string;
  changes: Change[];
  warnings: string[];
}

export interface ClusterPlan {
  nodes: NodePlanReport[];
  dns: { changes: Change[]; warnings: string[] };
  /** Nodes or masters that could not be read: the plan is incomplete. */
  errors: string[];
}

async function nodePlan(rt: Runtime, node: string): Promise<NodePlanReport> {
  if (node === rt.self) {
    const r = await convergeNode(rt, node, { dryRun: true });
    return { node, changes: r.plan, warnings: r.warnings };
  }
  const out = await runOnNode(rt.config, node, ["apply", "--local", "--dry-run"], {
    schema: remotePlan,
    what: "plan",
  });
  return { node, changes: out.plan, warnings: out.warnings };
}

export async function planCluster(rt: Runtime): Promise<ClusterPlan> {
  const plan: ClusterPlan = { nodes: [], dns: { changes: [], warnings: [] }, errors: [] };
  for (const node of Object.keys(rt.config.nodes).sort()) {
    try {
      plan.nodes.push(await nodePlan(rt, node));
    } catch (err) {
      plan.errors.push(`node ${node}: ${messageOf(err)}`);
    }
  }
  try {
    const dns = await syncDns(rt, undefined, { dryRun: true, withdraw: "unclaimed" });
    plan.dns = { changes: dns.plan ?? [], warnings: dns.problems };
  } catch (err) {
    plan.errors.push(`dns: ${messageOf(err)}`);
  }
  return plan;
}

export function allChanges(plan: ClusterPlan): Change[] {
  return [...plan.nodes.flatMap((n) => n.changes), ...plan.dns.changes];
}

/** 2 when part of the cluster could not be read, 4 when there are changes, 0 when converged; never 3. */
export function planExitCode(plan: ClusterPlan): 0 | 2 | 4 {
  if (plan.errors.length > 0) return 2;
  return allChanges(plan).length > 0 ? 4 : 0;
}
