import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { writeCodeCache } from "../lib/code-cache.ts";
import { configCacheEntry, configCacheFile, readHookViewSync } from "../lib/config/cache.ts";
import type { HookView } from "../lib/config/hook-view.ts";
import { createLogger } from "../lib/log/logger.ts";
import type { HookDeps } from "../lib/orchestrate/hook-core.ts";
import { pokeHookService } from "../lib/orchestrate/hook-handoff.ts";
import { makeDirsSync } from "../lib/state/make-dirs.ts";
import type { CodeCacheHandle } from "./code-cache.ts";

// `<hookscript> --warm-code-cache`, run by the installers (never by Proxmox,
// whose first argument is a vmid): every phase once, against a state dir and
// a pmxcfs root of its own that are removed afterwards, with a view of the
// config made up here (read back through a config cache entry of its own), lines formatted
// but not written, and the hand-off poking a FIFO that does not exist (no
// worker started). V8 compiles a function the first time it is called, so
// only after this does the script's code cache hold what a real phase runs.
// See code-cache.ts for where the cache goes and why it can be trusted.

const VMID = 100;

export async function warmCodeCache(
  handle: CodeCacheHandle | undefined,
  run: (args: string[], deps: HookDeps) => Promise<number>,
): Promise<number> {
  if (!handle) {
    process.stderr.write("pvemigrate-dns: --warm-code-cache: this bundle was not started by its loader\n");
    return 1;
  }
  const sandbox = mkdtempSync(join(tmpdir(), "pvemigrate-dns-warm-"));
  try {
    const view: HookView = {
      source: join(sandbox, "config.yaml"),
      strict: false,
      stateDir: join(sandbox, "state", "{node}"),
      pveRoot: join(sandbox, "pve"),
      nodes: ["warm"],
      vmids: `,${VMID},`,
    };
    // The config cache's way too (an entry of our own, as a full load writes one).
    const text = "# warm-up\n";
    writeFileSync(view.source, text);
    const cacheDir = join(sandbox, "cache");
    mkdirSync(cacheDir, { mode: 0o700 });
    writeFileSync(configCacheFile(view.source, cacheDir), configCacheEntry(view.source, text, view, "{}"));
    const viewFromCache = () => {
      const fd = openSync(view.source, "r");
      try {
        return readHookViewSync(view.source, fd, cacheDir);
      } finally {
        closeSync(fd);
      }
    };
    const deps = (migratedFrom: string): HookDeps => ({
      env: { PVEMIGRATE_DNS_NODE: "warm", PVE_MIGRATED_FROM: migratedFrom },
      loadConfig: async () => ({ view: viewFromCache() ?? view }),
      handOff: async (_ctx, vmid, phase) => {
        pokeHookService(join(sandbox, "no-fifo"), vmid, phase);
      },
      say: createLogger({ write: () => {} }),
    });
    for (const [phase, from] of [
      ["pre-start", "other"],
      ["post-start", ""],
      ["pre-stop", ""],
      ["post-stop", ""],
    ] as const) {
      const code = await run([String(VMID), phase], deps(from));
      if (code !== 0) throw new Error(`the warm-up's ${phase} exited ${code}`);
    }
  } finally {
    rmSync(sandbox, { recursive: true, force: true });
  }
  const data = handle.script.createCachedData();
  const dir = dirname(handle.file);
  makeDirsSync(dir, { mode: 0o755 });
  if (!writeCodeCache(handle.file, data, 0o644)) {
    process.stderr.write(
      `pvemigrate-dns: --warm-code-cache: ${dir} is not a directory of root's only root can write to\n`,
    );
    return 1;
  }
  // Older builds' caches are never read again.
  for (const name of readdirSync(dir)) {
    if (/^hookscript-.*\.v8$/.test(name) && name !== basename(handle.file)) unlinkSync(join(dir, name));
  }
  process.stdout.write(`pvemigrate-dns: hookscript code cache: ${handle.file} (${data.length} bytes)\n`);
  return 0;
}
