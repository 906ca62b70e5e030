#!/usr/bin/env node
// First: refuses a too-old Node.js before any other module runs.
import "./check-node.ts";
import { Command, CommanderError } from "commander";
import { loadConfig } from "../lib/config/load.ts";
import { ExitCode, exitCodeOf, messageOf } from "../lib/errors.ts";
import pkg from "../package.json" with { type: "json" };
import { registerConfigCommands } from "./commands/config.ts";
import { registerDemoCommand } from "./commands/demo.ts";
import { registerDnsCommands } from "./commands/dns.ts";
import { registerDoctorCommand } from "./commands/doctor.ts";
import { registerHooksCommands } from "./commands/hooks.ts";
import { registerOrchestrateCommands } from "./commands/orchestrate.ts";

// The CLI: every subcommand is a thin call into lib/. Exit codes (README):
// 0 ok, 1 invalid input or config, 2 a peer failed, 3 partial success with work journaled.

export function buildProgram(): Command {
  const program = new Command("pvemigrate-dns")
    .description("Move a Proxmox VM's NAT forwards, SNI/Host routes and DNS names with the VM")
    .version(pkg.version, "-V, --version")
    .option(
      "--config <file>",
      "config file (default: $PVEMIGRATE_DNS_CONFIG or /etc/pve/pvemigrate-dns.yaml)",
    )
    .showHelpAfterError()
    .exitOverride();
  registerConfigCommands(program, loadConfig);
  registerOrchestrateCommands(program, loadConfig);
  registerDnsCommands(program, loadConfig);
  registerDemoCommand(program);
  registerDoctorCommand(program, loadConfig);
  registerHooksCommands(program, loadConfig);
  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors are invalid input.
      process.exitCode = err.exitCode === 0 ? ExitCode.ok : ExitCode.invalid;
      return;
    }
    process.stderr.write(`pvemigrate-dns: ${messageOf(err).split("\n").join("\npvemigrate-dns: ")}\n`);
    process.exitCode = exitCodeOf(err);
  }
}

await main(process.argv);
