import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  renameSync,
  type Stats,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { Script } from "node:vm";
import { CONFIG_CACHE_DIR } from "../lib/config/cache.ts";
import { makeDirsSync } from "../lib/state/make-dirs.ts";

// Runs the CLI's `dns set` fast path from V8's code cache (issue 16, floor 2).
// Most of what `dns set` costs beyond Node's own start is V8 compiling its
// functions the first time each runs (~5 ms); Node 22 caches that itself
// (module.enableCompileCache), Node 18/20 do not. So the launcher embeds the
// fast path's bundle as a string (scripts/build.mjs) and compiles it here with
// the bytecode V8 produced for it after an earlier run, kept next to the
// config cache (lib/config/cache.ts): root only, in a directory of root's no
// one else can write to, since bytecode is code. The directory is checked
// before a read and before a write (not a link, root's, no group/other write:
// in a directory others can write to they could swap the entry or plant a
// link at the temporary name, which root would then write through); the entry
// is opened without following a link and checked on its descriptor, and the
// temporary file is created exclusively (O_EXCL: any file or link already
// there is an error, never followed). An entry is named by the bundle's
// SHA-256 (an upgrade never meets an old entry) and the Node version (two
// builds on one node would otherwise keep replacing each other's entry); V8
// itself refuses data from another V8 version, other flags or another source
// length, and a refused, missing or untrusted entry only means a normal
// compile, after which save() writes a fresh one where the directory is trusted.

export interface CachedModule {
  exports: unknown;
  /** Writes the entry when there was no usable one (call after the run: it holds what ran compiled). */
  save(): void;
}

const usable = () => process.getuid?.() === 0;

/** Owned by this process's effective user (root: see usable) and not writable by group or others. */
const ownedAndClosed = (st: Stats) => st.uid === process.geteuid?.() && (st.mode & 0o022) === 0;

/** Whether `dir` is a directory itself (not a link to one) only this process's user can write to. */
function trustedDir(dir: string): boolean {
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && ownedAndClosed(st);
  } catch {
    return false;
  }
}

/** The entry's bytes when a regular file of root's no one else can write is there (not a link); undefined otherwise. */
function trustedEntry(file: string, dir: string): Buffer | undefined {
  if (!trustedDir(dir)) return undefined;
  let fd: number | undefined;
  try {
    // Checked on the descriptor that is then read: nothing can be swapped in between.
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    const st = fstatSync(fd);
    return st.isFile() && ownedAndClosed(st) ? readFileSync(fd) : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes `data` as `file` through a temporary file created exclusively (0600), renamed over it. */
function writeEntry(file: string, data: Buffer): void {
  const temp = `${file}.${process.pid}.tmp`;
  // "wx": O_CREAT|O_EXCL, so a file or link already at the name is an error, never written through.
  const fd = openSync(temp, "wx", 0o600);
  try {
    try {
      writeFileSync(fd, data);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {}
    throw err;
  }
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
  const cachedData = usable() ? trustedEntry(file, dir) : undefined;
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
      if (!fresh || !usable()) return;
      // Best effort: without an entry the next run only compiles again.
      try {
        makeDirsSync(dir, { mode: 0o700 });
        if (trustedDir(dir)) writeEntry(file, script.createCachedData());
      } catch {}
    },
  };
}
