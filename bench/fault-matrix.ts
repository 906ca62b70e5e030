// The fault matrix's table (bench/RESULTS.md, "Fault matrix"): runs every row
// in test/fault through vitest with PVEMIGRATE_FAULT_MATRIX_OUT pointing at a
// temp file, where each row appends its runs, then prints the markdown table
// and removes the file. More runs per row: PVEMIGRATE_FAULT_RUNS=10 (what
// `npm run soak` sets). Exit code: vitest's (a row that lost anything fails).
//   npm run bench -- fault-matrix
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { type FaultRow, MATRIX_OUT_ENV, renderMatrix } from "../test/fault/matrix.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const rowSchema = z.object({
  fault: z.string(),
  runs: z.array(
    z.object({ converged: z.boolean(), lost: z.number(), clobbered: z.number(), convergeMs: z.number() }),
  ),
});

function vitest(env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const bin = join(root, "node_modules", "vitest", "vitest.mjs");
    const child = spawn(process.execPath, [bin, "run", "test/fault"], { cwd: root, env, stdio: "inherit" });
    child.on("error", () => resolve(1));
    child.on("close", (code) => resolve(code ?? 1));
  });
}

const dir = mkdtempSync(join(tmpdir(), "pvemigrate-fault-matrix-"));
const out = join(dir, "rows.jsonl");
try {
  const code = await vitest({ ...process.env, [MATRIX_OUT_ENV]: out });
  let rows: FaultRow[] = [];
  try {
    rows = readFileSync(out, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => rowSchema.parse(JSON.parse(l)));
  } catch (err) {
    process.stderr.write(`fault-matrix: no rows recorded (${err instanceof Error ? err.message : err})\n`);
  }
  const runs = process.env.PVEMIGRATE_FAULT_RUNS ?? "default";
  process.stdout.write(`\nFault matrix (runs per row: ${runs}; node ${process.version})\n\n`);
  process.stdout.write(`${renderMatrix(rows)}\n`);
  process.exitCode = code;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
