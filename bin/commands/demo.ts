import type { Command } from "commander";
import type { ExampleTable } from "../../lib/cli-docs/examples.ts";
import { createCleanups, guardInterrupts } from "../../lib/demo/cleanup.ts";
import { runDemo } from "../../lib/demo/scenario.ts";

export function registerDemoCommand(program: Command): Command {
  return program
    .command("demo")
    .description("run a live migration and an HA recovery on an embedded simulated cluster (no root needed)")
    .option("--no-netns", "do not apply nft tables in network namespaces even as root")
    .action(async (opts: { netns: boolean }) => {
      // Ctrl-C, SIGTERM or a closed stdout (`demo | head`) still remove the
      // demo's namespaces, temp dir and named before exiting (cleanup.ts).
      const cleanups = createCleanups();
      const guard = guardInterrupts(cleanups, {
        stdout: process.stdout,
        note: (line) => process.stderr.write(`${line}\n`),
        exit: (code) => process.exit(code),
      });
      const demo = runDemo({
        out: (line) => {
          if (guard.writable) process.stdout.write(`${line}\n`);
        },
        ...(opts.netns ? {} : { netns: false }),
        // The demo's "other nodes" are this same CLI run again with --node.
        cliCommand: [process.execPath, ...process.execArgv, process.argv[1]!],
        cleanups,
      });
      guard.watch(demo);
      try {
        process.exitCode = await demo;
      } catch (err) {
        if (!guard.interrupted) throw err;
      }
      if (guard.interrupted) await guard.exiting();
      guard.stop();
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
