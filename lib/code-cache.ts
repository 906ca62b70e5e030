import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { ownedAndClosed } from "./owner-only.ts";
import { writeFileAtomicSync } from "./state/atomic-write.ts";

// One way to keep and trust V8 code caches (issue 16: Node 18/20 have no
// module compile cache), for both users: the hookscript's loader
// (hooks/loader.ts; written at install time by --warm-code-cache) and the
// CLI launcher's `dns set` fast path (bin/code-cache.ts; written after a run).
//
// Bytecode is code, so an entry is trusted only in a directory that is a
// directory itself (not a link), owned by this process's user (root on a
// node) and not writable by group or others, and only as a regular file of
// that user's, opened without following a link and checked on the
// descriptor that is then read. A write goes through a temporary file created
// exclusively (O_EXCL: a file or link planted at its name is an error, never
// written through), synced, then renamed.
//
// V8 checks a cache's version, flags and source length, not its bytes: a
// cache damaged on disk (one flipped bit in its bytecode) makes V8 abort the
// whole process in its deserializer (measured: SIGTRAP, exit 133), and a
// pre-start that dies aborts the VM start. So the file holds the data twice,
// after its length, and two copies that differ are no cache: one memcmp
// (~10 µs for 68 KB), where a checksum in JS over the words measured ~5 ms
// cold and node:crypto costs ~5 ms to load (the hook does not load it).
// Against damage, not tampering: only the owner can write there. 8 bytes of
// header keep V8's data 8-byte aligned.
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

/** Whether `dir` is a directory itself (not a link to one) only this process's user can write to. */
export function trustedCodeCacheDir(dir: string): boolean {
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && ownedAndClosed(st);
  } catch {
    return false;
  }
}

/** V8's data from `file` when trusted (see above), whole and sealed; undefined otherwise (compile as usual). */
export function readTrustedCodeCache(file: string): Buffer | undefined {
  if (!trustedCodeCacheDir(dirname(file))) return undefined;
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    const st = fstatSync(fd);
    return st.isFile() && ownedAndClosed(st) ? unsealCodeCache(readFileSync(fd)) : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Code caches are far over a state file's bound (the hookscript's ~70 KB, sealed ~140 KB); this one only stops a runaway. */
const MAX_CODE_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * Writes V8's `data` sealed as `file`, in a trusted directory only (returns
 * false elsewhere), the way state files are written (writeFileAtomicSync: a
 * temporary file created exclusively with `mode`, synced, renamed over
 * `file`): after a crash V8 gets this whole cache or none.
 */
export function writeCodeCache(file: string, data: Buffer, mode: number): boolean {
  if (!trustedCodeCacheDir(dirname(file))) return false;
  writeFileAtomicSync(file, sealCodeCache(data), { mode, maxBytes: MAX_CODE_CACHE_BYTES });
  return true;
}
