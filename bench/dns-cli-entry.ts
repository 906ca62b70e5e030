import { Command, CommanderError } from "commander";
import { registerDnsCommands } from "../bin/commands/dns.ts";
import { loadConfig } from "../lib/config/load.ts";
import { exitCodeOf, messageOf } from "../lib/errors.ts";

// The `dns` subcommands as a standalone CLI, bundled by bench/dns.ts exactly
// like the shipped bin (esbuild, one file) so the benchmark measures a whole
// process: node start-up, config load, update, exit.

const program = new Command("pvemigrate-dns").option("--config <file>").exitOverride();
registerDnsCommands(program, loadConfig);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exitCode = err.exitCode === 0 ? 0 : 1;
  else process.stderr.write(`${messageOf(err)}\n`);
  if (!(err instanceof CommanderError)) process.exitCode = exitCodeOf(err);
}
