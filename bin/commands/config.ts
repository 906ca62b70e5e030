import type { Command } from "commander";
import type { ExampleTable } from "../../lib/cli-docs/examples.ts";
import { ConfigError, type LoadedConfig } from "../../lib/config/load.ts";
import { formatProblem } from "../../lib/config/normalize.ts";
import { printableConfig, printableYaml } from "../../lib/config/printable.ts";
import { ExitCode } from "../../lib/errors.ts";
import { type GlobalOptions, printEnvelope } from "./common.ts";

/** `config check`: print the normalized config (secrets redacted) or every problem. */
export function registerConfigCommands(
  program: Command,
  load: (path?: string) => Promise<LoadedConfig>,
): void {
  const config = program.command("config").description("inspect the cluster config");
  config
    .command("check")
    .description("validate the config and print it normalized (never connects to anything)")
    .option("--json", "machine-readable output")
    .action(async (_opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      try {
        const loaded = await load(opts.config);
        const printable = printableConfig(loaded);
        if (opts.json) printEnvelope({ data: { config: printable }, exitCode: ExitCode.ok });
        else {
          process.stdout.write(printableYaml(printable));
          const { nodes, vms } = loaded.config;
          process.stderr.write(
            `config ok: ${Object.keys(nodes).length} nodes, ${Object.keys(vms).length} VMs (${loaded.config.source})\n`,
          );
        }
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        if (opts.json)
          printEnvelope({
            data: { source: err.source, problems: err.problems },
            exitCode: ExitCode.invalid,
            errors: err.problems.map(formatProblem),
          });
        else process.stderr.write(`${err.problems.map(formatProblem).join("\n")}\n`);
        process.exitCode = ExitCode.invalid;
      }
    });
}

export const configExamples: ExampleTable = {
  "config check": [
    {
      command: "pvemigrate-dns config check",
      explain: "validate /etc/pve/pvemigrate-dns.yaml and print it normalized",
    },
    {
      command: "pvemigrate-dns config check --config examples/cluster.yaml --json",
      explain: "validate another file; the problems (or the config) as JSON",
    },
  ],
};
