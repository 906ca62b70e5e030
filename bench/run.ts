// Runs every benchmark in bench/, one after the other, each as its own
// process (`node --import tsx bench/<name>.ts`), so one benchmark's JIT,
// sockets and timers never skew the next one's numbers.
//   npm run bench                 all of them
//   npm run bench -- dns hook     only those whose file name contains a word
// A file is a benchmark unless it is this runner, a helper entry point that
// a benchmark bundles (`*-entry.ts`) or a module benchmarks share (`*-common.ts`). Exit code: 1 when any benchmark failed.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

export function benchmarkFiles(dir = here, filters: string[] = []): string[] {
  return readdirSync(dir)
    .filter(
      (f) => f.endsWith(".ts") && f !== "run.ts" && !f.endsWith("-entry.ts") && !f.endsWith("-common.ts"),
    )
    .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
    .sort()
    .map((f) => join(dir, f));
}

// Every config load writes a config cache, by default in /run/pvemigrate-dns.
// A benchmark that does not choose its own place (PVEMIGRATE_DNS_CACHE_DIR)
// gets a temp dir, removed when it ends: benchmarks leave nothing behind.
function runOne(file: string): Promise<number> {
  const cacheDir = mkdtempSync(join(tmpdir(), "pvemigrate-bench-cache-"));
  const env = { ...process.env, PVEMIGRATE_DNS_CACHE_DIR: process.env.PVEMIGRATE_DNS_CACHE_DIR || cacheDir };
  return runChild(file, env).finally(() => rmSync(cacheDir, { recursive: true, force: true }));
}

function runChild(file: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", file], { stdio: "inherit", env });
    child.on("error", (err) => {
      process.stderr.write(`bench ${basename(file)}: ${err.message}\n`);
      resolve(1);
    });
    child.on("close", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const files = benchmarkFiles(here, process.argv.slice(2));
  if (files.length === 0) {
    process.stderr.write(`bench: no benchmark matches ${process.argv.slice(2).join(" ")}\n`);
    process.exitCode = 1;
  }
  const failed: string[] = [];
  for (const file of files) {
    console.log(`\n=== ${basename(file)} ===`);
    const t0 = performance.now();
    const code = await runOne(file);
    console.log(
      `--- ${basename(file)}: ${code === 0 ? "ok" : `FAILED (exit ${code})`} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    if (code !== 0) failed.push(basename(file));
  }
  if (failed.length) {
    console.log(`\nfailed: ${failed.join(", ")}`);
    process.exitCode = 1;
  }
}
