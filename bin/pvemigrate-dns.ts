#!/usr/bin/env node
// First: refuses a too-old Node.js before any other module runs.
import "./check-node.ts";
import { loadFastPath } from "./fast-path.ts";

// The CLI's entry, a small launcher: Node parses a whole bundle before running
// it, and the full CLI (bin/program.ts: the command tree, exit codes) is ~1 MB.
// `dns set` runs from the config cache without it (bin/dns-set-fast.ts,
// compiled from V8's code cache in dist/: bin/fast-path.ts); every other
// command line loads it. scripts/build.mjs bundles bin/program.ts on its own
// (dist/pvemigrate-dns-full.mjs) and points this dynamic import at it.
// This file is bundled as CommonJS (dist/pvemigrate-dns.cjs; the .mjs name
// is a link to it): no top-level await, and a rejection ends the process with
// its stack and exit code 1, as a rejected top-level await would.

async function main(argv: string[]): Promise<void> {
  const fast = loadFastPath();
  if (await fast.runDnsSetFast(argv)) {
    fast.saveCodeCache();
    return;
  }
  const { runCli } = await import("./program.ts");
  await runCli(argv);
}

void main(process.argv);
