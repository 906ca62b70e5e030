import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode, messageOf } from "../errors.ts";
import type { Runtime } from "../orchestrate/runtime.ts";
import { writeFileAtomic } from "../state/atomic-write.ts";
import { makeDirs } from "../state/make-dirs.ts";
import { parseJson } from "../state/read.ts";
import type { RunEvents } from "./events.ts";
import { metricFamilies } from "./families.ts";
import { renderMetrics } from "./render.ts";
import {
  addRun,
  emptyMetricsState,
  type MetricsState,
  parseMetricsState,
  type ReconcileOutcome,
} from "./state.ts";

// The thin shell around the pure metrics: read what the runs recorded
// (stateDir/metrics.json, the last-applied records, both journals), render,
// and write the textfile the way node_exporter's textfile collector needs it:
// a temp file in the same directory, renamed over the old one, so a scrape
// never reads half a file (the temp name does not end in .prom, so it is never
// read at all). Metrics are a by-product: their failures are logged, never the
// run's failure.

export function metricsStatePath(rt: Pick<Runtime, "config">): string {
  return join(rt.config.stateDir, "metrics.json");
}

async function readState(rt: Pick<Runtime, "config" | "log">): Promise<MetricsState> {
  const path = metricsStatePath(rt);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return emptyMetricsState();
    throw err;
  }
  const json = parseJson(text);
  const parsed = json.ok ? parseMetricsState(json.value) : { problem: json.problem };
  if ("state" in parsed) return parsed.state;
  // Counters start again from 0; Prometheus takes that as a reset.
  rt.log(`metrics: ${path} not understood (${parsed.problem}); starting it again`, "warning");
  return emptyMetricsState();
}

/** The exposition text for this node now. */
export async function metricsText(rt: Runtime): Promise<string> {
  const state = await readState(rt);
  const lastApplied = await rt.state.lastApplied.list();
  const pending: Array<{ journal: "local" | "cluster"; kind: string }> = [];
  for (const [journal, j] of [
    ["local", rt.state.local],
    ["cluster", rt.state.cluster],
  ] as const) {
    for (const item of await j.list()) pending.push({ journal, kind: item.kind });
  }
  return renderMetrics(metricFamilies({ node: rt.self, state, lastApplied, pending }));
}

/** Writes `text` to `path` atomically (temp file + rename in the same directory), readable by node_exporter. */
export async function writeTextfile(path: string, text: string): Promise<void> {
  // The collector's directory is node_exporter's to create: missing, it is an error worth seeing.
  await writeFileAtomic(path, text, { mode: 0o644, maxBytes: 4 * 1024 * 1024 });
}

/**
 * Adds one run (its events, and its outcome when it was a reconcile) to the
 * node's metrics state, under a local lock (the hook's worker and the timer's
 * reconcile may end at the same time), then rewrites metrics.textfile when
 * the config names one. Never throws: a warning says what went wrong.
 */
export async function recordRun(rt: Runtime, events: RunEvents, reconcile?: ReconcileOutcome): Promise<void> {
  events.stop();
  try {
    await rt.state.withLock("metrics", async () => {
      const next = addRun(await readState(rt), events, reconcile);
      await makeDirs(rt.config.stateDir, { mode: 0o700 });
      await writeFileAtomic(metricsStatePath(rt), `${JSON.stringify(next)}\n`, { mode: 0o600 });
    });
    const textfile = rt.config.metrics.textfile;
    if (textfile) await writeTextfile(textfile, await metricsText(rt));
  } catch (err) {
    rt.log(`metrics not written: ${messageOf(err)}`, "warning");
  }
}
