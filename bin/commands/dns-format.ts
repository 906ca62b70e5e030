import type { DeleteResult, NameOutcome } from "../../lib/dns/client.ts";
import type { ExitCode } from "../../lib/errors.ts";

// What `dns set|show|delete` return and how each result reads as text. Pure:
// the commands build these objects, tests check them, and the register
// function prints them as text or --json.

export interface DnsSetResult {
  ok: boolean;
  exitCode: ExitCode;
  outcome: NameOutcome;
  acceptedBy: string[];
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

export interface DnsShowResult {
  ok: boolean;
  exitCode: ExitCode;
  name: string;
  masters: MasterView[];
}

export interface DnsDeleteResult {
  ok: boolean;
  exitCode: ExitCode;
  result: DeleteResult;
}

const list = (a: string[] | undefined) => (a && a.length > 0 ? a.join(" ") : "-");

export function formatSet(r: DnsSetResult): string {
  const o = r.outcome;
  switch (o.status) {
    case "updated":
      return `${o.name}: set to ${list([...o.a, ...o.aaaa])}, accepted by ${o.master}`;
    case "unchanged":
      return `${o.name}: already ${list([...o.a, ...o.aaaa])} at ${o.master}, nothing to do`;
    case "stale":
      return `${o.name}: not changed: it holds ${list([...o.actual.a, ...o.actual.aaaa])}, not the expected ${list([...o.expected.a, ...o.expected.aaaa])} (NXRRSET at ${o.master})`;
    case "not-owned":
      return `${o.name}: not changed: the name exists without our ownership TXT (records: ${list([...o.actual.a, ...o.actual.aaaa, ...o.actual.txt])}); it belongs to someone else`;
    case "refused":
      return `${o.name}: not changed: it ${o.reason}`;
  }
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
  ].join("\n");
}

export function formatDelete(r: DnsDeleteResult): string {
  const d = r.result;
  switch (d.status) {
    case "deleted":
      return `${d.name}: deleted at ${d.master}`;
    case "absent":
      return `${d.name}: does not exist at ${d.master}, nothing to do`;
    case "not-owned":
      return `${d.name}: not deleted: the name exists without our ownership TXT; it belongs to someone else`;
  }
}
