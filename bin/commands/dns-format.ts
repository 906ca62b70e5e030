import type { Addresses } from "../../lib/dns/changes.ts";
import type { DeleteResult, NameOutcome, PropagationReport } from "../../lib/dns/client.ts";
import type { ExitCode } from "../../lib/errors.ts";

// What `dns set|show|delete` return and how each result reads as text. Pure:
// the commands build these objects, tests check them, and the register
// function prints them as text or --json.

export interface DnsSetResult {
  ok: boolean;
  exitCode: ExitCode;
  outcome: NameOutcome;
  acceptedBy: string[];
  /** --dry-run: nothing was sent; `outcome` is what would happen, `current` what the name holds. */
  dryRun?: true;
  current?: Addresses;
  /** A VM manages the name: the next reconcile puts it back. */
  warning?: string;
}

export interface MasterView {
  master: string;
  ok: boolean;
  error?: string;
  exists?: boolean;
  a?: string[];
  aaaa?: string[];
  txt?: string[];
  owned?: boolean;
  serial?: number;
}

/** A server that is not a master candidate (dns.propagation: listed, or from the NS set). */
export interface ServerView {
  server: string;
  /** "agrees": answers what the first master that answered does. */
  state: "agrees" | "differs" | "no answer";
  detail?: string;
}

export interface DnsShowResult {
  ok: boolean;
  exitCode: ExitCode;
  name: string;
  masters: MasterView[];
  /** Masters whose serial or answer differ from each other (a lagging secondary, a one-sided write). */
  divergence: string[];
  servers: ServerView[];
  /** NS addresses not asked (outside dns.propagation.allow, no address). */
  skipped: string[];
}

export interface DnsDeleteResult {
  ok: boolean;
  exitCode: ExitCode;
  result: DeleteResult;
  /** --dry-run: nothing was sent; `result` is what would happen. */
  dryRun?: true;
  /** A VM manages the name: the next reconcile writes it again. */
  warning?: string;
}

/** The servers of a propagation report that are not master candidates, as `dns show` rows. */
export function serverViews(p: PropagationReport | undefined, masters: ReadonlySet<string>): ServerView[] {
  return (p?.asked ?? [])
    .filter((s) => !masters.has(s))
    .map((server): ServerView => {
      const lag = p?.lagging.find((l) => l.server === server);
      const down = p?.unreachable.find((u) => u.server === server);
      if (lag) return { server, state: "differs", detail: lag.answer.join(" ") || "(no such name)" };
      if (down) return { server, state: "no answer", detail: down.reason };
      return { server, state: "agrees" };
    });
}

const list = (a: string[] | undefined) => (a && a.length > 0 ? a.join(" ") : "-");

function setLine(r: DnsSetResult): string {
  const o = r.outcome;
  const not = r.dryRun ? "would not change it" : "not changed";
  switch (o.status) {
    case "updated":
      if (r.dryRun) {
        const now = r.current ? list([...r.current.a, ...r.current.aaaa]) : "-";
        return `${o.name}: would set ${list([...o.a, ...o.aaaa])} (it holds ${now} at ${o.master}; compare-and-swap against that); nothing sent`;
      }
      return o.readBack
        ? `${o.name}: set to ${list([...o.a, ...o.aaaa])} at ${o.master} (no trustworthy reply: ${o.readBack})`
        : `${o.name}: set to ${list([...o.a, ...o.aaaa])}, accepted by ${o.master}`;
    case "unchanged":
      return `${o.name}: already ${list([...o.a, ...o.aaaa])} at ${o.master}, nothing to do`;
    case "stale": {
      const actual = [...o.actual.a, ...o.actual.aaaa];
      const expected = [...o.expected.a, ...o.expected.aaaa];
      const why = r.dryRun ? "at" : "NXRRSET at";
      if (expected.length === 0)
        return `${o.name}: ${not}: --expect none means "only if it does not exist yet", and it exists with ${list(actual)} (${why} ${o.master})`;
      if (actual.length === 0)
        return `${o.name}: ${not}: it has no address, not the expected ${list(expected)} (${why} ${o.master})`;
      return `${o.name}: ${not}: it holds ${list(actual)}, not the expected ${list(expected)} (${why} ${o.master})`;
    }
    case "not-owned":
      return `${o.name}: not changed: the name exists without our ownership TXT (records: ${list([...o.actual.a, ...o.actual.aaaa, ...o.actual.txt])}); it belongs to someone else`;
    case "refused":
      return `${o.name}: not changed: it ${o.reason}`;
  }
}

export function formatSet(r: DnsSetResult): string {
  return [setLine(r), ...(r.warning ? [`warning: ${r.warning}`] : [])].join("\n");
}

export function formatShow(r: DnsShowResult): string {
  const rows = [["MASTER", "SERIAL", "A", "AAAA", "OWNED", "TXT"]];
  for (const m of r.masters) {
    if (!m.ok) rows.push([m.master, "-", `ERROR: ${m.error}`, "", "", ""]);
    else if (!m.exists) rows.push([m.master, String(m.serial), "(no such name)", "", "", ""]);
    else
      rows.push([m.master, String(m.serial), list(m.a), list(m.aaaa), m.owned ? "yes" : "no", list(m.txt)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length)));
  return [
    `${r.name}:`,
    ...rows.map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    ),
    ...r.divergence.map((d) => `warning: ${d}`),
    ...r.servers.map(
      (s) => `name server ${s.server}: ${s.state === "agrees" ? "same answer" : `${s.state}: ${s.detail}`}`,
    ),
    ...r.skipped.map((s) => `not asked: ${s}`),
  ].join("\n");
}

export function formatDelete(r: DnsDeleteResult): string {
  return [deleteLine(r), ...(r.warning ? [`warning: ${r.warning}`] : [])].join("\n");
}

function deleteLine(r: DnsDeleteResult): string {
  const d = r.result;
  switch (d.status) {
    case "deleted":
      return r.dryRun
        ? `${d.name}: would be deleted at ${d.master}; nothing sent`
        : `${d.name}: deleted at ${d.master}`;
    case "absent":
      return `${d.name}: does not exist at ${d.master}, nothing to do`;
    case "not-owned":
      return `${d.name}: not deleted: the name exists without our ownership TXT; it belongs to someone else`;
  }
}
