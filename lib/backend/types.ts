import type { NodeDesired } from "../desired/types.ts";
import { type Change, renderPlan } from "../plan/types.ts";

// The shape both node backends (lib/nat, lib/proxy) share, so the orchestrator
// converges them the same way: render what should be, read what is, diff the
// two into a printable plan, apply the plan (a no-op when it is empty).

export interface BackendPlan {
  /** Which backend produced it ("nftables", "haproxy", "nginx", "none"). */
  backend: string;
  /** What apply() changes, as data (lib/plan/types.ts); empty when nothing changes. */
  changes: Change[];
  /** What the plan cannot do, or only in part ("admin socket not reachable"); not changes. */
  warnings?: string[];
}

export interface NodeBackend<Rendered, Current, Plan extends BackendPlan> {
  /** Pure: validates the desired state and renders what the backend should hold at `now` (epoch ms). */
  render(desired: NodeDesired, now: number): Rendered;
  /** Reads back what is applied right now. */
  current(): Promise<Current>;
  /** Pure: what apply() would change; `changes` is empty when the node already matches. */
  plan(desired: NodeDesired, current: Current, now: number): Plan;
  /** Makes it so; does nothing for an empty plan. */
  apply(plan: Plan): Promise<void>;
}

/** The plan's lines, or a single line saying nothing changes. */
export function describePlan(plan: BackendPlan): string[] {
  return plan.changes.length === 0
    ? [`= ${plan.backend}: no changes`]
    : renderPlan(plan).map((l) => `${plan.backend}: ${l}`);
}
