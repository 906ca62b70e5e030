import type { Command } from "commander";
import type { ExampleTable } from "../../lib/cli-docs/examples.ts";
import type { LoadedConfig } from "../../lib/config/load.ts";
import { metricsText, writeTextfile } from "../../lib/metrics/collect.ts";
import { createRuntime } from "../../lib/orchestrate/runtime.ts";
import type { GlobalOptions } from "./common.ts";

// `metrics`: this node's Prometheus metrics, from what its runs recorded
// (lib/metrics). Prints them, or writes a file for node_exporter's textfile
// collector (temp file + rename in the same directory). Contacts nothing.

interface MetricsCliOptions extends GlobalOptions {
  node?: string;
  output?: string;
}

export const metricsExamples: ExampleTable = {
  metrics: [
    { command: "pvemigrate-dns metrics", explain: "print this node's metrics (Prometheus text format)" },
    {
      command: "pvemigrate-dns metrics --output /var/lib/prometheus/node-exporter/pvemigrate-dns.prom",
      explain: "write them where node_exporter's textfile collector reads them",
    },
  ],
};

export function registerMetricsCommand(
  program: Command,
  load: (path?: string) => Promise<LoadedConfig>,
): void {
  program
    .command("metrics")
    .description(
      "this node's metrics in Prometheus text format (reconcile also writes them to metrics.textfile when set)",
    )
    .option(
      "--output <file>",
      "write to this file atomically (a .prom file in the textfile collector's directory)",
    )
    .option("--node <name>", "act as this node (default: $PVEMIGRATE_DNS_NODE or the hostname)")
    .action(async (_o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<MetricsCliOptions>();
      const rt = createRuntime(await load(opts.config), opts.node ? { node: opts.node } : {});
      const text = await metricsText(rt);
      if (opts.output) await writeTextfile(opts.output, text);
      else process.stdout.write(text);
    });
}
