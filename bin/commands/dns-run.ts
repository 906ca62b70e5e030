import type { Command } from "commander";
import type { LoadedConfig } from "../../lib/config/load.ts";
import { DnsAllMastersFailed } from "../../lib/dns/errors.ts";
import { ExitCode, exitCodeOf, messageOf } from "../../lib/errors.ts";
import { type GlobalOptions, printEnvelope } from "./common.ts";

// How a `dns` subcommand prints: its result as text or in the JSON envelope,
// its error likewise, and the exit code; and the wiring the subcommands on
// one name (show, adopt, delete) share.

export const CONFIG_OPTION = "config file (default: $PVEMIGRATE_DNS_CONFIG or /etc/pve/pvemigrate-dns.yaml)";

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

/** A `dns` subcommand on one name: its argument, --dry-run when it has one, --config and --json. */
interface NameCommand<R> {
  name: string;
  description: string;
  argument: [name: string, description: string];
  /** The --dry-run help text; without it the command has no --dry-run. */
  dryRun?: string;
  run: (loaded: LoadedConfig, fqdn: string, opts: { dryRun: boolean }) => Promise<R>;
  format: (r: R) => string;
}

export function nameCommand<R extends { ok: boolean; exitCode: ExitCode; warning?: string }>(
  dns: Command,
  io: Output,
  load: (path?: string) => Promise<LoadedConfig>,
  spec: NameCommand<R>,
): void {
  const cmd = dns
    .command(spec.name)
    .description(spec.description)
    .argument(...spec.argument);
  if (spec.dryRun !== undefined) cmd.option("--dry-run", spec.dryRun);
  cmd
    .option("--config <file>", CONFIG_OPTION)
    .option("--json", "machine-readable output")
    .action(async (fqdn: string, _opts, command: Command) => {
      const opts = command.optsWithGlobals<GlobalOptions & { dryRun?: boolean }>();
      await runCommand(
        opts.json,
        io,
        async () => spec.run(await load(opts.config), fqdn, { dryRun: opts.dryRun === true }),
        spec.format,
      );
    });
}
