import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// bin/closed-stdout.ts: `pvemigrate-dns ... | head -1` closes the pipe early;
// the CLI must not crash with an unhandled EPIPE and a stack trace.

const cli = join(import.meta.dirname, "..", "..", "bin", "pvemigrate-dns.ts");

function runWithClosedStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", cli, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    // Our end of the pipe closes before the CLI (a Node start away) writes anything.
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

describe("a reader that closes stdout early (| head)", () => {
  it.each([["--help"], ["dns", "--help"], ["hooks", "--help"]])(
    "%s ends with its own exit code and says nothing about the pipe",
    async (...args) => {
      const r = await runWithClosedStdout(args);
      expect(r.stderr).not.toMatch(/EPIPE|Unhandled/);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
    },
    30_000,
  );
});
