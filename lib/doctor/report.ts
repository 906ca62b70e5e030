import { ExitCode } from "../errors.ts";
import type { CheckName, DoctorReport, Finding, FindingStatus } from "./types.ts";

// Pure: findings -> exit code, summary and the one-line-per-finding text.

const INPUT_CHECKS = new Set<CheckName>(["config", "node"]);

export function exitCodeFor(findings: readonly Finding[]): DoctorReport["exitCode"] {
  const failed = findings.filter((f) => f.status === "fail");
  if (failed.some((f) => INPUT_CHECKS.has(f.check))) return ExitCode.invalid;
  return failed.length > 0 ? ExitCode.peer : ExitCode.ok;
}

export function buildReport(findings: Finding[], node?: string): DoctorReport {
  const summary: Record<FindingStatus, number> = { ok: 0, warn: 0, fail: 0 };
  for (const f of findings) summary[f.status]++;
  return { ...(node ? { node } : {}), findings, summary, exitCode: exitCodeFor(findings) };
}

const LABEL: Record<FindingStatus, string> = { ok: "ok  ", warn: "WARN", fail: "FAIL" };

/** Collapses whitespace so a multi-line error (a config problem list, a daemon's stderr) stays one line. */
const oneLine = (text: string) => text.replace(/\s*\n\s*/g, " | ").trim();

export function formatFinding(f: Finding): string {
  const hint = f.hint ? ` -> ${oneLine(f.hint)}` : "";
  return `${LABEL[f.status]} ${f.check}: ${oneLine(f.message)}${hint}`;
}

export function formatReport(report: DoctorReport): string[] {
  const { ok, warn, fail } = report.summary;
  return [
    ...report.findings.map(formatFinding),
    `${report.nodes ? `cluster (${report.nodes.join(", ")}): ` : report.node ? `${report.node}: ` : ""}${ok} ok, ${warn} warning(s), ${fail} failure(s)`,
  ];
}
