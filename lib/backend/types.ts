import type { NodeDesired } from "../desired/types.ts";
import { type Change, renderPlan } from "../plan/types.ts";

// The shape both node backends (lib/nat, lib/proxy) share, so the orchestrator
// converges them the same way. The orchestrator only ever reads what is and
// applies a plan (NodeIo); the plan itself comes from pure functions of plain
// data (planNatFor, planProxyFor, lib/plan's planNode). `render` and `plan`
// stay on a backend as those pure functions bound to its settings, for its
// own tests and tools.

export interface BackendPlan {
  /** Which backend produced it ("nftables", "haproxy", "nginx", "none"). */
  backend: string;
  /** What apply() changes, as data (lib/plan/types.ts); empty when nothing changes. */
  changes: Change[];
  /** What the plan cannot do, or only in part ("admin socket not reachable"); not changes. */
  warnings?: string[];
}

/** The imperative shell of a node backend: all the I/O it does. */
export interface NodeIo<Current, Plan extends BackendPlan> {
  /** Reads back what is applied right now. */
  read(): Promise<Current>;
  /** Makes it so; does nothing for an empty plan. */
  apply(plan: Plan): Promise<void>;
}

export interface NodeBackend<Rendered, Current, Plan extends BackendPlan> extends NodeIo<Current, Plan> {
  /** Pure: validates the desired state and renders what the backend should hold at `now` (epoch ms). */
  render(desired: NodeDesired, now: number): Rendered;
  /** Pure: what apply() would change; `changes` is empty when the node already matches. */
  plan(desired: NodeDesired, current: Current, now: number): Plan;
}

/** The plan's lines, or a single line saying nothing changes. */
export function describePlan(plan: BackendPlan): string[] {
  return plan.changes.length === 0
    ? [`= ${plan.backend}: no changes`]
    : renderPlan(plan).map((l) => `${plan.backend}: ${l}`);
}
