import { DnsAllMastersFailed } from "../../lib/dns/errors.ts";
import { ExitCode, exitCodeOf, messageOf } from "../../lib/errors.ts";
import { printEnvelope } from "./common.ts";

// How a `dns` subcommand prints: its result as text or in the JSON envelope,
// its error likewise, and the exit code.

export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const stdio: Output = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
};

/**
 * Runs one command: prints its result or its error (text or JSON) and sets
 * process.exitCode. In the JSON envelope, `data` is the result without its
 * own ok/exitCode, and the text line is the error when the command failed.
 */
export async function runCommand<R extends { ok: boolean; exitCode: ExitCode; warning?: string }>(
  json: boolean | undefined,
  io: Output,
  work: () => Promise<R>,
  format: (r: R) => string,
): Promise<void> {
  try {
    const r = await work();
    if (json) {
      const { ok: _ok, exitCode, warning, ...data } = r;
      printEnvelope({
        data,
        exitCode,
        warnings: warning ? [warning] : [],
        errors: exitCode === ExitCode.ok ? [] : format(r).split("\n"),
      });
    } else (r.exitCode === ExitCode.ok ? io.out : io.err)(format(r));
    process.exitCode = r.exitCode;
  } catch (err) {
    const code = exitCodeOf(err);
    if (json) {
      printEnvelope({
        data: err instanceof DnsAllMastersFailed ? { failures: err.failures } : null,
        exitCode: code,
        // An all-masters failure's message has one line per master.
        errors: messageOf(err)
          .split("\n")
          .map((l) => l.trim())
          .filter((l) => l !== ""),
      });
    } else {
      io.err(messageOf(err));
    }
    process.exitCode = code;
  }
}
