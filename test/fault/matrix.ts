import { appendFileSync } from "node:fs";

// The fault matrix (the evidence issue): every row runs one fault against the
// netns cluster (real named, nft, HAProxy) a few times, then checks the final
// state and counts what was lost (a name, forward or route that should be
// there and is not, or journal work dropped) and what was clobbered (a record
// or rule that someone else wrote, overwritten). A row's test asserts 0 lost and
// 0 clobbered for every run; it also records the row here so that
// `npm run bench -- fault-matrix` can print the table kept in bench/RESULTS.md.

export interface FaultRun {
  converged: boolean;
  lost: number;
  clobbered: number;
  /** From the end of the fault (or the start of the run when the fault lasts) to the final state. */
  convergeMs: number;
}

export interface FaultRow {
  fault: string;
  runs: FaultRun[];
}

/** Where rows go when the matrix is run for its table (set by bench/fault-matrix.ts). */
export const MATRIX_OUT_ENV = "PVEMIGRATE_FAULT_MATRIX_OUT";

/** Appends the row as one JSON line to $PVEMIGRATE_FAULT_MATRIX_OUT; nothing when it is unset. */
export function recordRow(row: FaultRow): void {
  const out = process.env[MATRIX_OUT_ENV];
  if (out) appendFileSync(out, `${JSON.stringify(row)}\n`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The markdown table: fault, runs, converged, lost, clobbered, time to converge (median and max). */
export function renderMatrix(rows: FaultRow[]): string {
  const lines = [
    "| fault | runs | converged | lost | clobbered | converge median | converge max |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    const ms = r.runs.map((x) => x.convergeMs);
    const sum = (f: (x: FaultRun) => number) => r.runs.reduce((a, x) => a + f(x), 0);
    lines.push(
      `| ${r.fault} | ${r.runs.length} | ${sum((x) => (x.converged ? 1 : 0))} | ${sum((x) => x.lost)} | ${sum((x) => x.clobbered)} | ${(median(ms) / 1000).toFixed(2)} s | ${(Math.max(...ms) / 1000).toFixed(2)} s |`,
    );
  }
  return lines.join("\n");
}
