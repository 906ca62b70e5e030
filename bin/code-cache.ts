import { dirname, join } from "node:path";
import { Script } from "node:vm";
import { readTrustedCodeCache, writeCodeCache } from "../lib/code-cache.ts";
import { CONFIG_CACHE_DIR } from "../lib/config/cache.ts";
import { runsAsRoot } from "../lib/owner-only.ts";
import { makeDirsSync } from "../lib/state/make-dirs.ts";

// Runs the CLI's `dns set` fast path from V8's code cache (issue 16, floor 2).
// Most of what `dns set` costs beyond Node's own start is V8 compiling its
// functions the first time each runs (~5 ms); Node 22 caches that itself
// (module.enableCompileCache), Node 18/20 do not. So the launcher embeds the
// fast path's bundle as a string (scripts/build.mjs) and compiles it here with
// the bytecode V8 produced for it after an earlier run, kept next to the
// config cache (lib/config/cache.ts), root only. How an entry is trusted,
// written and kept sealed against damage is lib/code-cache.ts's, shared with
// the hookscript's cache. An entry is named by the bundle's SHA-256 (an
// upgrade never meets an old entry) and the Node version (two builds on one
// node would otherwise keep replacing each other's entry); V8 itself refuses
// data from another V8 version, other flags or another source length, and a
// refused, missing or untrusted entry only means a normal compile, after which
// save() writes a fresh one where the directory is trusted.

export interface CachedModule {
  exports: unknown;
  /** Writes the entry when there was no usable one (call after the run: it holds what ran compiled). */
  save(): void;
}

/**
 * Evaluates `source`, a CommonJS bundle, as the module `filename` with
 * `require` (the launcher's), compiled from the code cache when there is a
 * usable entry for `hash`.
 */
export function runWithCodeCache(
  source: string,
  hash: string,
  filename: string,
  require: NodeJS.Require,
  dir = CONFIG_CACHE_DIR,
): CachedModule {
  const file = join(dir, `code-${hash}-${process.version}.bin`);
  const cachedData = runsAsRoot() ? readTrustedCodeCache(file) : undefined;
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename,
    ...(cachedData ? { cachedData } : {}),
  });
  const module = { exports: {} as unknown };
  const evaluate = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: { exports: unknown },
    filename: string,
    dirname: string,
  ) => void;
  evaluate(module.exports, require, module, filename, dirname(filename));
  const fresh = cachedData === undefined || script.cachedDataRejected === true;
  return {
    exports: module.exports,
    save() {
      if (!fresh || !runsAsRoot()) return;
      // Best effort: without an entry the next run only compiles again.
      try {
        makeDirsSync(dir, { mode: 0o700 });
        writeCodeCache(file, script.createCachedData(), 0o600);
      } catch {}
    },
  };
}
