import { vi } from "vitest";
import { runCli } from "../../bin/program.ts";
import type { LoadedConfig } from "../../lib/config/load.ts";

// Runs the CLI in this process (fast: no Node start per case) with its
// stdout/stderr captured and its exit code returned, as the entry would.

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(
  args: string[],
  load?: (path?: string) => Promise<LoadedConfig>,
  env: Record<string, string> = {},
): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  process.exitCode = undefined;
  try {
    await runCli(["node", "pvemigrate-dns", ...args], load);
    return { code: Number(process.exitCode ?? 0), stdout, stderr };
  } finally {
    process.exitCode = undefined;
    out.mockRestore();
    err.mockRestore();
    vi.unstubAllEnvs();
  }
}
