import type { Command } from "commander";
import { runDemo } from "../../lib/demo/scenario.ts";

export function registerDemoCommand(program: Command): void {
  program
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
