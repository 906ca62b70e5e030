// PURE: metric families to Prometheus' text exposition format (version
// 0.0.4), what node_exporter's textfile collector reads. The rules kept here:
// one `# HELP` and one `# TYPE` line per family, before its samples, and all
// of a family's samples together; names from [a-zA-Z_:][a-zA-Z0-9_:]*, label
// names from [a-zA-Z_][a-zA-Z0-9_]* (never `__`-prefixed); in label values
// `\`, `"` and a newline escaped as `\\`, `\"`, `\n`, in HELP text `\` and a
// newline; values as Go's ParseFloat reads them, with NaN, +Inf and -Inf;
// no timestamps (the textfile collector refuses them); "\n" after every line.

export type MetricType = "counter" | "gauge" | "summary" | "untyped";

export interface Sample {
  /** Suffix for summaries (`_sum`, `_count`); empty for the family's own name. */
  suffix?: "_sum" | "_count";
  labels?: Readonly<Record<string, string>>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: readonly Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (ch) => (ch === "\\" ? "\\\\" : ch === '"' ? '\\"' : "\\n"));
}

export function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (ch) => (ch === "\\" ? "\\\\" : "\\n"));
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

function labelText(labels: Readonly<Record<string, string>> | undefined): string {
  const entries = Object.entries(labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return "";
  for (const [k] of entries) {
    if (!LABEL_NAME.test(k) || k.startsWith("__")) throw new Error(`metrics: label name "${k}" is not valid`);
  }
  return `{${entries.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`;
}

/** The exposition text of `families`; throws on a name the format cannot carry (a bug, not input). */
export function renderMetrics(families: readonly MetricFamily[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const f of families) {
    if (!METRIC_NAME.test(f.name)) throw new Error(`metrics: metric name "${f.name}" is not valid`);
    if (seen.has(f.name)) throw new Error(`metrics: family "${f.name}" given twice`);
    seen.add(f.name);
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples)
      out.push(`${f.name}${s.suffix ?? ""}${labelText(s.labels)} ${formatValue(s.value)}`);
  }
  return out.length ? `${out.join("\n")}\n` : "";
}
