#!/usr/bin/env node
// First: refuses a too-old Node.js before any other module runs.
import "./check-node.ts";
import { runDnsSetFast } from "./dns-set-fast.ts";

// The CLI's entry, a small launcher: Node parses a whole bundle before running
// it, and the full CLI (bin/program.ts: the command tree, exit codes) is ~1 MB.
// `dns set` runs from the config cache without it (bin/dns-set-fast.ts); every
// other command line loads it. scripts/build.mjs bundles bin/program.ts on its
// own (dist/pvemigrate-dns-full.mjs) and points this dynamic import at it.

if (!(await runDnsSetFast(process.argv))) {
  const { runCli } = await import("./program.ts");
  await runCli(process.argv);
}
