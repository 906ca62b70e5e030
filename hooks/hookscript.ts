#!/usr/bin/env node
// Proxmox VE guest hookscript: `<script> <vmid> <phase>`.
// Install: packaging/install.sh (or the .deb) copies dist/hookscript.cjs to a
// storage with snippets content, replacing the `#!/usr/bin/env node` line with
// node's absolute path (Proxmox runs hooks with PATH=/sbin:/bin:/usr/sbin:/usr/bin,
// where env finds no node from /usr/local/bin, nvm or n), then
//   qm set <vmid> --hookscript local:snippets/pvemigrate-dns.mjs
//
// This bundle is the fast path, and small on purpose: Proxmox waits for every
// phase while a VM start or a live migration stands still, and Node parses a
// whole file before running it (the full bundle, unevaluated, cost ~50 ms).
// It reads the config from the cache, writes the journal and pokes the hook
// service, with nothing else loaded (test/hooks/fast-path.test.ts checks the
// bundle). Everything else runs in the CLI bundle (`pvemigrate-dns hook ...`).
// Node runs it through hooks/loader.ts, which compiles it with its V8 code
// cache (hooks/code-cache.ts) and hands it the cache (__pvmCodeCache) for
// `--warm-code-cache` (hooks/warm-code-cache.ts), the installers' one call.
// First: on a too-old Node.js, log and exit 0 before any other module runs.
import "./check-node.ts";
import { closeSync, openSync } from "node:fs";
import { readHookViewSync } from "../lib/config/cache.ts";
import { configPath } from "../lib/config/path.ts";
import { errnoCode } from "../lib/errors.ts";
import { runHookWith } from "../lib/orchestrate/hook-core.ts";
import { handOffTo } from "../lib/orchestrate/hook-handoff.ts";
import type { CodeCacheHandle } from "./code-cache.ts";
import { findCli, runFullHook } from "./full-cli.ts";
import { warmCodeCache } from "./warm-code-cache.ts";

/** The loader's sixth argument to the body (scripts/build.mjs wraps it). */
declare const __pvmCodeCache: CodeCacheHandle | undefined;

const env = process.env;
const self = process.argv[1] ?? "";
// Looked for only when a phase needs it (a cache miss, strict, the fallback worker): not every phase.
let cli: string | undefined | null = null;
const theCli = () => {
  if (cli === null) cli = findCli(self, env);
  return cli;
};

// The bundle is CommonJS (no top-level await): scripts/build.mjs.
const done = (code: number) => {
  // Exit now, not when the event loop drains: Proxmox waits for this process.
  // stderr (a pipe or the worker's log file) is written synchronously.
  process.exit(code);
};
if (process.argv[2] === "--warm-code-cache")
  void warmCodeCache(typeof __pvmCodeCache === "undefined" ? undefined : __pvmCodeCache, runHookWith).then(
    done,
    (err: unknown) => {
      process.stderr.write(`pvemigrate-dns: --warm-code-cache: ${String(err)}\n`);
      done(1);
    },
  );
else
  void runHookWith(process.argv.slice(2), {
    env,
    // Synchronous reads: no thread pool, no fs/promises. The file and the cache's
    // header and text, compared a chunk at a time: never the normalized config behind them.
    async loadConfig() {
      const file = configPath(undefined, env);
      let fd: number;
      try {
        fd = openSync(file, "r");
      } catch (err) {
        // Said here, as the full load would say it: no second Node start to learn the file is missing.
        if (errnoCode(err) === "ENOENT") throw new Error(`${file} does not exist`);
        return undefined;
      }
      try {
        const view = readHookViewSync(file, fd);
        return view ? { view } : undefined;
      } finally {
        closeSync(fd);
      }
    },
    async delegate(args) {
      const found = theCli();
      if (found) return runFullHook(found, args);
      process.stderr.write(
        `pvemigrate-dns: hook ${args[1] ?? ""} VM ${args[0] ?? ""}: the CLI bundle (pvemigrate-dns.mjs) is not installed next to this script or in /usr/share/pvemigrate-dns or /usr/local/lib/pvemigrate-dns; doing nothing\n`,
      );
      return 0;
    },
    handOff: handOffTo(() => {
      const found = theCli();
      return found ? [found, "hook"] : [self];
    }, env),
  }).then(done);
