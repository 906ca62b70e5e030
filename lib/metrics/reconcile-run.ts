import { exitCodeOf } from "../errors.ts";
import {
  type ReconcileOptions,
  type ReconcileReport,
  reconcile,
  reconcileExitCode,
} from "../orchestrate/reconcile.ts";
import type { Runtime } from "../orchestrate/runtime.ts";
import { recordRun } from "./collect.ts";
import { recordEvents } from "./events.ts";
import type { ReconcileOutcome } from "./state.ts";

// Reconcile as the timer runs it, with its metrics: listens to what the run
// publishes (UPDATEs per master, switches), and afterwards adds the run to
// the node's metrics and rewrites metrics.textfile. A wrapper, so the
// pipeline itself (lib/orchestrate/reconcile.ts) knows nothing of metrics.
// A dry run changes nothing and records nothing.

/** PURE: what a reconcile report says for the metrics. */
export function reconcileOutcome(report: ReconcileReport, at: number): ReconcileOutcome {
  const dns = report.dns;
  const drift =
    report.switched.length +
    (report.local?.changes.length ?? 0) +
    (dns
      ? dns.outcomes.filter((o) => o.status === "updated").length + dns.deleted.length + dns.withdrawn.length
      : 0);
  return {
    at,
    exitCode: reconcileExitCode(report),
    drift,
    notesRefused: report.notes.length,
    errors: report.errors.length,
  };
}

export async function reconcileWithMetrics(
  rt: Runtime,
  opts: ReconcileOptions = {},
): Promise<ReconcileReport> {
  const events = recordEvents();
  if (opts.dryRun) {
    try {
      return await reconcile(rt, opts);
    } finally {
      events.stop();
    }
  }
  let report: ReconcileReport;
  try {
    report = await reconcile(rt, opts);
  } catch (err) {
    await recordRun(rt, events, {
      at: rt.now(),
      exitCode: exitCodeOf(err),
      drift: 0,
      notesRefused: 0,
      errors: 1,
    });
    throw err;
  }
  await recordRun(rt, events, reconcileOutcome(report, rt.now()));
  return report;
}
