import { Command, CommanderError } from "commander";
import type { ExampleTable } from "../lib/cli-docs/examples.ts";
import { attachExamples } from "../lib/cli-docs/examples.ts";
import { type LoadedConfig, loadConfig } from "../lib/config/load.ts";
import { errorEnvelope } from "../lib/envelope.ts";
import { ExitCode, exitCodeOf, messageOf } from "../lib/errors.ts";
import { createLogger } from "../lib/log/logger.ts";
import pkg from "../package.json" with { type: "json" };
import { ignoreClosedStdout } from "./closed-stdout.ts";
import {
  CONFIG_FLAGS,
  CONFIG_HELP,
  configOptionEverywhere,
  printJson,
  wantsJson,
} from "./commands/common.ts";
import { configExamples, registerConfigCommands } from "./commands/config.ts";
import { demoExamples, registerDemoCommand } from "./commands/demo.ts";
import { registerDnsCommands } from "./commands/dns.ts";
import { dnsExamples } from "./commands/dns-examples.ts";
import { registerDocsCommands } from "./commands/docs.ts";
import { doctorExamples, registerDoctorCommand } from "./commands/doctor.ts";
import { registerHookInternalCommands } from "./commands/hook-internal.ts";
import { registerHooksCommands } from "./commands/hooks.ts";
import { hooksExamples } from "./commands/hooks-examples.ts";
import { metricsExamples, registerMetricsCommand } from "./commands/metrics.ts";
import { registerOrchestrateCommands } from "./commands/orchestrate.ts";
import { orchestrateExamples } from "./commands/orchestrate-examples.ts";
import { proxyExamples, registerProxyCommands } from "./commands/proxy.ts";
import { registerStatusCommand } from "./commands/status.ts";

// The CLI's command tree: every subcommand is a thin call into lib/. Kept
// apart from the entry (bin/pvemigrate-dns.ts) so tests and the docs
// generators can walk it without running it. Exit codes (README):
// 0 ok, 1 invalid input or config, 2 a peer failed, 3 partial success with work journaled.

/** Every command's examples: its --help, the man page, and tests that parse each one. */
export const examples: ExampleTable = {
  "": [
    { command: "pvemigrate-dns status", explain: "where each VM runs and where its names point" },
    {
      command: "pvemigrate-dns --config /root/staging.yaml plan",
      explain: "what reconcile would change, with another config (--config may also follow the command)",
    },
    { command: "pvemigrate-dns migrate --help", explain: "one command's options and examples" },
  ],
  ...configExamples,
  ...orchestrateExamples,
  ...dnsExamples,
  ...proxyExamples,
  ...demoExamples,
  ...doctorExamples,
  ...hooksExamples,
  ...metricsExamples,
};

export function buildProgram(load: (path?: string) => Promise<LoadedConfig> = loadConfig): Command {
  const program = new Command("pvemigrate-dns")
    .description("move a Proxmox VM's NAT forwards, SNI/Host routes and DNS names with the VM")
    .version(pkg.version, "-V, --version")
    .option(CONFIG_FLAGS, CONFIG_HELP)
    .showHelpAfterError()
    .exitOverride();
  registerConfigCommands(program, load);
  registerOrchestrateCommands(program, load);
  registerStatusCommand(program, load);
  registerDnsCommands(program, load);
  registerProxyCommands(program, load);
  const demo = registerDemoCommand(program);
  registerDoctorCommand(program, load);
  registerHooksCommands(program, load);
  registerMetricsCommand(program, load);
  registerHookInternalCommands(program);
  // The demo builds its own cluster: a config file means nothing to it.
  configOptionEverywhere(program, [demo]);
  attachExamples(program, examples);
  // Last: the generators describe everything registered above.
  registerDocsCommands(program, examples);
  return program;
}

/** Runs one command line (argv as process.argv) and sets process.exitCode. */
export async function runCli(
  argv: string[],
  load: (path?: string) => Promise<LoadedConfig> = loadConfig,
): Promise<void> {
  const json = wantsJson(argv.slice(2));
  ignoreClosedStdout();
  try {
    await buildProgram(load).parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors are invalid input
      // (commander has printed the message to stderr; --json gets it in an envelope too).
      process.exitCode = err.exitCode === 0 ? ExitCode.ok : ExitCode.invalid;
      if (json && err.exitCode !== 0) printJson(errorEnvelope(ExitCode.invalid, err.message));
      return;
    }
    // Timestamped, or `<3>` when the timer's service writes to the journal (lib/log).
    createLogger()(messageOf(err), "error");
    process.exitCode = exitCodeOf(err);
    if (json) printJson(errorEnvelope(exitCodeOf(err), messageOf(err)));
  }
}
