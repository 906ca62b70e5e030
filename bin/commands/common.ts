import type { Command } from "commander";
import { allCommands } from "../../lib/cli-docs/examples.ts";
import { type EnvelopeInput, envelope } from "../../lib/envelope-build.ts";

// What every subcommand shares: the global options and JSON printing.

export interface GlobalOptions {
  config?: string;
  json?: boolean;
}

/** JSON output; Secret values serialize as "<redacted>" through their toJSON. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * A command's --json output: its result in the one envelope every command
 * prints (lib/envelope.ts, docs/JSON.md). Errors a command throws get theirs
 * from runCli (bin/program.ts).
 */
export function printEnvelope(result: EnvelopeInput): void {
  printJson(envelope(result));
}

/** Whether a command line asks for --json (before any `--`): errors thrown before or during the command print an envelope too. */
export function wantsJson(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).includes("--json");
}

export const CONFIG_FLAGS = "--config <file>";
export const CONFIG_HELP = "config file (default: $PVEMIGRATE_DNS_CONFIG or /etc/pve/pvemigrate-dns.yaml)";

/**
 * Shows `--config <file>` in the help of every command below root that lacks
 * it (except `without`). The value itself always lands on the root program:
 * without positional options, commander lets the root's `--config` follow
 * any subcommand, and optsWithGlobals() hands it to the action.
 */
export function configOptionEverywhere(root: Command, without: readonly Command[]): void {
  for (const cmd of allCommands(root)) {
    if (without.includes(cmd) || cmd.options.some((o) => o.long === "--config")) continue;
    cmd.option(CONFIG_FLAGS, CONFIG_HELP);
  }
}
