import { join } from "node:path";

// The hookscript's V8 code cache: the bytecode of its body (hooks/hookscript.ts,
// bundled by scripts/build.mjs), so a phase skips parsing and compiling it.
// Measured under cachegrind (issue 16): the body's parse and lazy compiles are
// ~10 M instructions of a post-start's ~112 M (~3 ms), with the cache ~1 M.
// Node 20 has no module compile cache, so the loader (hooks/loader.ts) compiles
// the body with vm.Script and this cache's bytes.
//
// Written once per build and Node, never while a VM start waits: by
// `<hookscript> --warm-code-cache` (hooks/warm-code-cache.ts), which the
// installers run: it runs every phase against a throw-away state dir, so the
// cache holds the functions the phases call (V8 compiles them lazily, on first
// call), then stores script.createCachedData(). Local to the node (the
// hookscript itself may sit on shared storage, nodes may run different Node
// versions), in /var/cache: deleting it only costs the next phases their compile.
// Named by the body's build id: V8 itself only checks the source's length, its
// own version and its flags, and would take a same-length body's cache.
// Trusted only when root wrote it where only root can write, and kept sealed
// against damage: lib/code-cache.ts, shared with the CLI launcher's cache.

/** $PVEMIGRATE_DNS_CODE_CACHE_DIR moves it (tests, benchmarks). */
export function codeCacheDir(env: NodeJS.ProcessEnv): string {
  return env.PVEMIGRATE_DNS_CODE_CACHE_DIR || "/var/cache/pvemigrate-dns";
}

/** Where the cache of the body with build id `build` lives. */
export function codeCacheFile(build: string, env: NodeJS.ProcessEnv): string {
  return join(codeCacheDir(env), `hookscript-${build}.v8`);
}

/** The loader's hand to the body: what `--warm-code-cache` needs to store the cache. */
export interface CodeCacheHandle {
  script: { createCachedData(): Buffer };
  file: string;
}
