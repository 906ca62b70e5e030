// A strict parser of Prometheus' text exposition format (0.0.4), as
// https://prometheus.io/docs/instrumenting/exposition_formats/ specifies it,
// for tests: no such package is installed, and a lenient one would prove
// nothing. It refuses what Prometheus or node_exporter's textfile collector
// would refuse or misread: a missing final newline, a HELP or TYPE given twice
// or after the family's samples, a family's samples split by another family,
// bad metric or label names (`__` is reserved), unknown escapes in HELP and
// label values, an unescaped quote, a duplicate label name or label set, a
// value Go's ParseFloat would not read, a sample a summary cannot have, and
// (in the textfile collector's mode, the default) any timestamp.

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedFamily {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help?: string;
  samples: ParsedSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[iI]nf|NaN)$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

class ParseError extends Error {}

function fail(line: number, why: string): never {
  throw new ParseError(`line ${line}: ${why}`);
}

function unescapeText(text: string, allowed: Record<string, string>, line: number): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch !== "\\") {
      out += ch;
      continue;
    }
    const next = text[i + 1];
    const repl = next === undefined ? undefined : allowed[next];
    if (repl === undefined) fail(line, `invalid escape \\${next ?? ""}`);
    out += repl;
    i++;
  }
  return out;
}

function parseValue(text: string, line: number): number {
  if (!FLOAT.test(text)) fail(line, `value "${text}" is not a float`);
  if (/inf$/i.test(text)) return text.startsWith("-") ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (text.endsWith("NaN")) return Number.NaN;
  return Number(text);
}

/** The family a sample name belongs to: itself, or a histogram/summary's base for its suffixes. */
function familyOf(name: string, families: Map<string, ParsedFamily>): string {
  for (const suffix of ["_sum", "_count", "_bucket"]) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const f = families.get(base);
    if (f && (f.type === "summary" || f.type === "histogram")) return base;
  }
  return name;
}

export function parsePromText(text: string, opts: { textfile?: boolean } = {}): ParsedFamily[] {
  const textfile = opts.textfile ?? true;
  if (text.length > 0 && !text.endsWith("\n")) throw new ParseError("the last line does not end with \\n");
  const families = new Map<string, ParsedFamily>();
  const closed = new Set<string>();
  const typed = new Set<string>();
  const seenLabelSets = new Set<string>();
  let current: string | undefined;
  const lines = text.split("\n");
  lines.pop();
  lines.forEach((raw, idx) => {
    const n = idx + 1;
    const l = raw.replace(/^[ \t]+/, "");
    if (l === "") return;
    const family = (name: string): ParsedFamily => {
      let f = families.get(name);
      if (!f) {
        if (closed.has(name)) fail(n, `${name}: its lines are not together`);
        f = { name, type: "untyped", samples: [] };
        families.set(name, f);
      }
      return f;
    };
    const enter = (name: string) => {
      if (current !== name) {
        if (current !== undefined) closed.add(current);
        if (closed.has(name)) fail(n, `${name}: its lines are not together`);
        current = name;
      }
    };
    if (l.startsWith("#")) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(l);
      if (!m) return; // a plain comment
      const [, kw, name, rest = ""] = m;
      if (METRIC_NAME.exec(name!)?.[0] !== name) fail(n, `${kw}: "${name}" is not a metric name`);
      enter(name!);
      const f = family(name!);
      if (kw === "HELP") {
        if (f.help !== undefined) fail(n, `${name}: HELP given twice`);
        f.help = unescapeText(rest, { "\\": "\\", n: "\n" }, n);
      } else {
        if (typed.has(name!)) fail(n, `${name}: TYPE given twice`);
        if (f.samples.length > 0) fail(n, `${name}: TYPE after its samples`);
        const type = rest.trim();
        if (!TYPES.has(type)) fail(n, `${name}: unknown type "${type}"`);
        f.type = type as ParsedFamily["type"];
        typed.add(name!);
      }
      return;
    }
    const nameMatch = METRIC_NAME.exec(l);
    if (!nameMatch) fail(n, "a sample must start with a metric name");
    const name = nameMatch[0];
    let rest = l.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith("{")) {
      rest = rest.slice(1);
      for (;;) {
        rest = rest.replace(/^[ \t]+/, "");
        if (rest.startsWith("}")) break;
        const ln = LABEL_NAME.exec(rest)?.[0];
        if (!ln) fail(n, `bad label name at "${rest.slice(0, 20)}"`);
        if (ln.startsWith("__")) fail(n, `label name "${ln}" is reserved`);
        if (ln in labels) fail(n, `label "${ln}" given twice`);
        rest = rest.slice(ln.length).replace(/^[ \t]+/, "");
        if (!rest.startsWith('="')) fail(n, `label "${ln}": expected ="`);
        rest = rest.slice(2);
        let end = 0;
        while (end < rest.length && rest[end] !== '"') end += rest[end] === "\\" ? 2 : 1;
        if (end >= rest.length) fail(n, `label "${ln}": unterminated value`);
        labels[ln] = unescapeText(rest.slice(0, end), { "\\": "\\", '"': '"', n: "\n" }, n);
        rest = rest.slice(end + 1).replace(/^[ \t]+/, "");
        if (rest.startsWith(",")) rest = rest.slice(1);
        else if (!rest.startsWith("}")) fail(n, `label "${ln}": expected , or }`);
      }
      rest = rest.slice(1);
    }
    if (!/^[ \t]/.test(rest)) fail(n, "expected whitespace before the value");
    const tokens = rest.trim().split(/[ \t]+/);
    if (tokens.length > 2) fail(n, "too many tokens");
    const value = parseValue(tokens[0]!, n);
    if (tokens[1] !== undefined) {
      if (textfile) fail(n, "timestamps are not allowed in a textfile collector file");
      if (!/^-?\d+$/.test(tokens[1])) fail(n, `timestamp "${tokens[1]}" is not an integer`);
    }
    const famName = familyOf(name, families);
    enter(famName);
    const f = family(famName);
    if (f.type === "summary" && name !== famName && name !== `${famName}_sum` && name !== `${famName}_count`)
      fail(n, `${name}: not a sample a summary has`);
    if (f.type === "summary" && name === famName && !("quantile" in labels))
      fail(n, `${name}: a summary's own samples need a quantile label`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seenLabelSets.has(key)) fail(n, `${name}: the same label set twice`);
    seenLabelSets.add(key);
    f.samples.push({ name, labels, value });
  });
  return [...families.values()];
}

/** The one sample of `name` with exactly `labels` (undefined when absent). */
export function sampleValue(
  families: readonly ParsedFamily[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  for (const f of families)
    for (const s of f.samples)
      if (s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want) return s.value;
  return undefined;
}
