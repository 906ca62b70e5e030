import { mkdirSync, statSync } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { errnoCode } from "../errors.ts";

// `mkdir -p` with a bounded number of system calls. Node's own
// mkdir(path, { recursive: true }) retries a child whenever its parent
// exists, so on a filesystem that answers ENOENT for a child of an existing
// directory (procfs: /proc/self/<missing>/x) it never returns (Node 20), and
// a hook stuck there holds a VM start or a live migration forever. Here: walk
// up with stat until an existing directory (at most one step per path
// component), then create the missing levels top-down, one mkdir each; any
// error is thrown as it is.

interface DirOptions {
  /** Mode of the directories created (as mkdir's, before the umask). */
  mode?: number;
}

function notADirectory(path: string): Error {
  return Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${path}'`), { code: "ENOTDIR" });
}

/** Creates `path` and its missing parents; resolves when it is a directory. */
export async function makeDirs(path: string, opts: DirOptions = {}): Promise<void> {
  const missing: string[] = [];
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    try {
      if (!(await stat(dir)).isDirectory()) throw notADirectory(dir);
      break;
    } catch (err) {
      if (errnoCode(err) !== "ENOENT" || dirname(dir) === dir) throw err;
      missing.push(dir);
    }
  }
  for (const dir of missing.reverse()) {
    try {
      await mkdir(dir, opts.mode === undefined ? {} : { mode: opts.mode });
    } catch (err) {
      // Created by someone else meanwhile: fine, when it is a directory.
      if (errnoCode(err) !== "EEXIST" || !(await stat(dir)).isDirectory()) throw err;
    }
  }
}

/** makeDirs for synchronous callers (the hook's worker spawn). */
export function makeDirsSync(path: string, opts: DirOptions = {}): void {
  const missing: string[] = [];
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    try {
      if (!statSync(dir).isDirectory()) throw notADirectory(dir);
      break;
    } catch (err) {
      if (errnoCode(err) !== "ENOENT" || dirname(dir) === dir) throw err;
      missing.push(dir);
    }
  }
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir, opts.mode === undefined ? {} : { mode: opts.mode });
    } catch (err) {
      if (errnoCode(err) !== "EEXIST" || !statSync(dir).isDirectory()) throw err;
    }
  }
}
