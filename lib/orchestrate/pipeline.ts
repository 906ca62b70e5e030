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
  /** The lock plan and apply run under, so nothing changes between the read and the write. */
  locked?<T>(fn: () => Promise<T>): Promise<T>;
  /** A real run failed (the lock, the plan or the apply; not an unsafe plan): journal what is left. */
  failed?(err: unknown): Promise<void>;
}

export type StageResult<P, R> = { plan: P; applied: false } | { plan: P; applied: true; result: R };

export async function runStage<P extends Planned, R>(
  stage: Stage<P, R>,
  mode: { dryRun: boolean },
): Promise<StageResult<P, R>> {
  const locked = <T>(fn: () => Promise<T>) => (stage.locked ? stage.locked(fn) : fn());
  if (mode.dryRun) return locked(async () => ({ plan: await stage.plan(), applied: false }));
  try {
    return await locked(async () => {
      const plan = await stage.plan();
      if (plan.unsafe !== undefined) throw new UnsafePlan(plan.unsafe);
      return { plan, applied: true, result: await stage.apply(plan) };
    });
  } catch (err) {
    if (stage.failed && !(err instanceof UnsafePlan)) await stage.failed(err);
    throw err;
  }
}
