import { UnsafePlan } from "../plan/safety.ts";
import type { Change } from "../plan/types.ts";

// The one shape every path runs (external-dns' RunOnce, octoDNS' plan +
// raise_if_unsafe + apply): `plan` observes, computes the desired state,
// plans it as Change objects and gives the pure safety verdict, with no side
// effect; `apply` makes it so and journals. A dry run is the plan alone: it
// stops here, and nowhere else. A plan over the safety threshold is never
// applied (UnsafePlan); a dry run reports it with the plan.

export interface Planned {
  changes: readonly Change[];
  /** Why the plan is over the safety threshold (lib/plan/safety.ts); unset when it is not, or --force. */
  unsafe?: string;
}

export interface Stage<P extends Planned, R> {
  plan(): Promise<P>;
  apply(plan: P): Promise<R>;
}

export type StageResult<P, R> = { plan: P; applied: false } | { plan: P; applied: true; result: R };

export async function runStage<P extends Planned, R>(
  stage: Stage<P, R>,
  mode: { dryRun: boolean },
): Promise<StageResult<P, R>> {
  const plan = await stage.plan();
  if (mode.dryRun) return { plan, applied: false };
  if (plan.unsafe !== undefined) throw new UnsafePlan(plan.unsafe);
  return { plan, applied: true, result: await stage.apply(plan) };
}
