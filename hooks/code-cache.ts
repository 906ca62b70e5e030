import { closeSync, fstatSync, openSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

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
// Trusted only when root wrote it where only root can write: it is code.

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

const safe = (st: { uid: number; mode: number }) => st.uid === 0 && (st.mode & 0o022) === 0;

// V8 checks a cache's version, flags and source length, not its bytes: a
// cache damaged on disk (one flipped bit in its bytecode) makes V8 abort the
// whole process in its deserializer (measured: SIGTRAP, exit 133), and a
// pre-start that dies aborts the VM start. So the file holds the data twice,
// after its length, and two copies that differ are no cache: one memcmp
// (~10 µs for 68 KB), where a checksum in JS over the words measured ~5 ms
// cold and node:crypto costs ~5 ms to load. Against damage, not tampering:
// only root can write here. 8 bytes of header keep V8's data 8-byte aligned.
const HEADER = 8;

/** The file's bytes for V8's `data`: its length, then the data twice. */
export function sealCodeCache(data: Buffer): Buffer {
  const head = Buffer.alloc(HEADER);
  head.writeUInt32LE(data.length, 0);
  return Buffer.concat([head, data, data]);
}

/** V8's data from the file's bytes, when whole and both copies agree. */
export function unsealCodeCache(file: Buffer): Buffer | undefined {
  const length = file.length >= HEADER ? file.readUInt32LE(0) : -1;
  if (length <= 0 || file.length !== HEADER + 2 * length) return undefined;
  const data = file.subarray(HEADER, HEADER + length);
  return data.equals(file.subarray(HEADER + length)) ? data : undefined;
}

/** The cache's bytes, when root wrote them where only root can write, whole; else undefined (compile as usual). */
export function readTrustedCodeCache(file: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    if (!safe(fstatSync(fd)) || !safe(statSync(dirname(file)))) return undefined;
    return unsealCodeCache(readFileSync(fd));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
