import type { MetricFamily, Sample } from "./render.ts";
import type { MetricsState } from "./state.ts";

// PURE: the metrics one node exports, from what its runs recorded: the
// metrics state (lib/metrics/state.ts), the last-applied records (when each
// VM was last switched here) and the journals (what is still pending). The
// shell (collect.ts) reads those; the text comes from render.ts. Names follow
// Prometheus' conventions: base units (seconds), `_total` for counters,
// `_timestamp_seconds` for points in time. node_exporter adds the instance.

/** Journal kinds (lib/orchestrate/pending.ts): always exported, 0 when none, so alerts see a series. */
export const JOURNAL_KINDS = ["hook", "node", "dns", "withdraw"] as const;

export interface MetricsInput {
  /** The node the metrics describe. */
  node: string;
  state: MetricsState;
  /** Last-applied records: a VM whose last switch was to `node` is exported with its time. */
  lastApplied: ReadonlyArray<{ vmid: number; node: string; appliedAt: string }>;
  /** Pending journal items: which journal (this node's, or the cluster's in pmxcfs) and kind. */
  pending: ReadonlyArray<{ journal: "local" | "cluster"; kind: string }>;
}

const P = "pvemigrate_dns_";

function gauge(name: string, help: string, samples: Sample[]): MetricFamily {
  return { name: P + name, help, type: "gauge", samples };
}

export function metricFamilies(input: MetricsInput): MetricFamily[] {
  const { state } = input;
  const r = state.reconcile;
  const families: MetricFamily[] = [];
  if (r) {
    if (r.lastSuccessAt !== undefined)
      families.push(
        gauge(
          "reconcile_last_success_timestamp_seconds",
          "When a reconcile on this node last ended with exit code 0.",
          [{ value: r.lastSuccessAt }],
        ),
      );
    families.push(
      gauge("reconcile_last_run_timestamp_seconds", "When the last reconcile on this node ended.", [
        { value: r.lastRunAt },
      ]),
      gauge(
        "reconcile_last_exit_code",
        "Exit code of the last reconcile: 0 ok, 1 refused, 2 peer failed, 3 partial.",
        [{ value: r.lastExitCode }],
      ),
      gauge(
        "drift_items",
        "Forwards, routes and DNS names the last reconcile found different from the config and changed.",
        [{ value: r.drift }],
      ),
      gauge(
        "notes_refused_items",
        "Problems with VMs' Notes blocks the last reconcile reported (each refuses a block).",
        [{ value: r.notesRefused }],
      ),
      gauge("reconcile_errors", "Errors the last reconcile reported.", [{ value: r.errors }]),
    );
  }

  const here = input.lastApplied
    .filter((a) => a.node === input.node && Number.isFinite(Date.parse(a.appliedAt)))
    .sort((a, b) => a.vmid - b.vmid);
  families.push(
    gauge(
      "vm_last_switch_timestamp_seconds",
      "When each VM last switched to this node (its forwards and routes applied here).",
      here.map((a) => ({ labels: { vmid: String(a.vmid) }, value: Date.parse(a.appliedAt) / 1000 })),
    ),
  );
  const switched = Object.entries(state.switches)
    .filter(([, s]) => s.to === input.node)
    .sort(([a], [b]) => Number(a) - Number(b));
  families.push(
    gauge(
      "vm_last_switch_duration_seconds",
      "How long each VM's last switch to this node took, until its names answered everywhere.",
      switched.map(([vmid, s]) => ({ labels: { vmid }, value: s.seconds })),
    ),
    {
      name: `${P}switch_duration_seconds`,
      help: "Switches to this node and their summed duration.",
      type: "summary",
      samples: [
        { suffix: "_sum", value: state.switchTotal.sum },
        { suffix: "_count", value: state.switchTotal.count },
      ],
    },
  );

  const masters = Object.entries(state.dns).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  families.push(
    {
      name: `${P}dns_update_duration_seconds`,
      help: "UPDATE messages each DNS master answered, and the summed time from sending to its answer.",
      type: "summary",
      samples: masters.flatMap(([master, m]) => [
        { suffix: "_sum" as const, labels: { master }, value: m.sum },
        { suffix: "_count" as const, labels: { master }, value: m.count },
      ]),
    },
    {
      name: `${P}dns_update_failures_total`,
      help: "UPDATE messages each DNS master did not take (no answer in time, SERVFAIL, a refusal).",
      type: "counter",
      samples: masters.map(([master, m]) => ({ labels: { master }, value: m.failures })),
    },
  );

  const pending = new Map<string, number>();
  for (const p of input.pending)
    pending.set(`${p.journal}\0${p.kind}`, (pending.get(`${p.journal}\0${p.kind}`) ?? 0) + 1);
  const kinds = [...new Set([...JOURNAL_KINDS, ...input.pending.map((p) => p.kind)])].sort();
  families.push(
    gauge(
      "journal_pending_items",
      "Work waiting in the journal for a later run, by kind, in this node's journal and the cluster's.",
      (["cluster", "local"] as const).flatMap((journal) =>
        kinds.map((kind) => ({ labels: { journal, kind }, value: pending.get(`${journal}\0${kind}`) ?? 0 })),
      ),
    ),
  );
  return families;
}
