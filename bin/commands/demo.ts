import type { Command } from "commander";
import type { ExampleTable } from "../../lib/cli-docs/examples.ts";
import { runDemo } from "../../lib/demo/scenario.ts";

export function registerDemoCommand(program: Command): Command {
  return program
    .command("demo")
    .description("run a live migration and an HA recovery on an embedded simulated cluster (no root needed)")
    .option("--no-netns", "do not apply nft tables in network namespaces even as root")
    .action(async (opts: { netns: boolean }) => {
      process.exitCode = await runDemo({
        out: (line) => process.stdout.write(`${line}\n`),
        ...(opts.netns ? {} : { netns: false }),
        // The demo's "other nodes" are this same CLI run again with --node.
        cliCommand: [process.execPath, ...process.execArgv, process.argv[1]!],
      });
    });
}

export const demoExamples: ExampleTable = {
  demo: [
    {
      command: "pvemigrate-dns demo",
      explain: "a live migration and an HA recovery on the embedded cluster",
    },
    {
      command: "pvemigrate-dns demo --no-netns",
      explain: "the same as root, without applying nft tables in network namespaces",
    },
  ],
};
