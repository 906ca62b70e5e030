import { z } from "zod";
import type { RunEvents } from "./events.ts";

// PURE: what this node remembers between runs for its metrics, and how one
// run adds to it. Prometheus wants counters that only grow and timestamps of
// the last success, while every run of the tool is a short process: so the
// reconcile command and the hook's worker each add what they saw to one small
// file in stateDir (metrics.json; lib/metrics/collect.ts reads and writes it).

const count = z.number().int().min(0);
const seconds = z.number().min(0);

const stateSchema = z.object({
  version: z.literal(1),
  /** The last reconcile on this node: when it ended, and its exit code (README "Exit codes"). */
  reconcile: z
    .object({
      lastRunAt: seconds,
      lastExitCode: count,
      /** When a reconcile last ended with exit code 0. */
      lastSuccessAt: seconds.optional(),
      /** Forwards, routes and names it found wrong and changed (or would change, dry run). */
      drift: count,
      /** Notes problems it reported (each one refused a VM's block). */
      notesRefused: count,
      errors: count,
    })
    .optional(),
  /** The last switch of each VM to this node, by vmid. */
  switches: z.record(
    z.string().regex(/^\d{1,9}$/),
    z.object({ at: seconds, seconds, to: z.string().max(64), from: z.string().max(64).optional() }),
  ),
  /** Every switch to this node: how many, and their summed duration. */
  switchTotal: z.object({ count, sum: seconds }),
  /** UPDATE messages per master label: answered (count, summed duration) and failed. */
  dns: z.record(z.string().min(1).max(300), z.object({ count, sum: seconds, failures: count })),
});

export type MetricsState = z.output<typeof stateSchema>;

/** VMs whose last switch is remembered: the newest ones, so a file cannot grow without bound. */
export const MAX_REMEMBERED_SWITCHES = 2000;

export function emptyMetricsState(): MetricsState {
  return { version: 1, switches: {}, switchTotal: { count: 0, sum: 0 }, dns: {} };
}

/** The state in `raw` (a file's JSON), or why it is not one. */
export function parseMetricsState(raw: unknown): { state: MetricsState } | { problem: string } {
  const r = stateSchema.safeParse(raw);
  if (r.success) return { state: r.data };
  const issue = r.error.issues[0];
  return { problem: `${issue?.path.join(".") || "(top level)"}: ${issue?.message ?? "invalid"}` };
}

export interface ReconcileOutcome {
  /** Milliseconds since the epoch when the run ended. */
  at: number;
  exitCode: number;
  drift: number;
  notesRefused: number;
  errors: number;
}

/** `state` with one run's events (and its reconcile outcome, when it was a reconcile) added. */
export function addRun(
  state: MetricsState,
  events: Pick<RunEvents, "dns" | "switches">,
  reconcile?: ReconcileOutcome,
): MetricsState {
  const next: MetricsState = {
    ...state,
    switches: { ...state.switches },
    switchTotal: { ...state.switchTotal },
    dns: Object.fromEntries(Object.entries(state.dns).map(([k, v]) => [k, { ...v }])),
  };
  const master = (label: string) => {
    next.dns[label] ??= { count: 0, sum: 0, failures: 0 };
    return next.dns[label];
  };
  for (const e of events.dns) {
    if (e.master !== undefined) {
      const m = master(e.master);
      m.count += 1;
      m.sum += e.seconds;
    }
    for (const f of e.failed) master(f).failures += 1;
  }
  for (const s of events.switches) {
    next.switches[String(s.vmid)] = {
      at: s.at / 1000,
      seconds: s.seconds,
      to: s.to,
      ...(s.from ? { from: s.from } : {}),
    };
    next.switchTotal.count += 1;
    next.switchTotal.sum += s.seconds;
  }
  const kept = Object.entries(next.switches).sort(([, a], [, b]) => b.at - a.at);
  if (kept.length > MAX_REMEMBERED_SWITCHES)
    next.switches = Object.fromEntries(kept.slice(0, MAX_REMEMBERED_SWITCHES));
  if (reconcile) {
    const lastSuccessAt = reconcile.exitCode === 0 ? reconcile.at / 1000 : state.reconcile?.lastSuccessAt;
    next.reconcile = {
      lastRunAt: reconcile.at / 1000,
      lastExitCode: reconcile.exitCode,
      ...(lastSuccessAt !== undefined ? { lastSuccessAt } : {}),
      drift: reconcile.drift,
      notesRefused: reconcile.notesRefused,
      errors: reconcile.errors,
    };
  }
  return next;
}
