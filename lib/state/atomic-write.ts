import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { open, rename, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { uniqueToken } from "./token.ts";

// Every state file is replaced by writing a temp file next to it and renaming
// it over the old one: rename is atomic on a local filesystem and on pmxcfs,
// so a reader (or a crash) sees the old content or the new one, never half.
// Temp names start with "." so directory listings of items skip them.

export const TEMP_PREFIX = ".tmp-";

/** pmxcfs refuses files over 1 MiB; we stay far below so one runaway payload cannot wedge a directory. */
export const MAX_STATE_FILE_BYTES = 256 * 1024;

export interface AtomicWriteOptions {
  /**
   * Mode the temp file is CREATED with (no chmod afterwards: pmxcfs has none).
   * Leave unset on pmxcfs, which imposes its own permissions.
   */
  mode?: number;
  /** Refuse larger data (default MAX_STATE_FILE_BYTES: pmxcfs's limit with a margin). */
  maxBytes?: number;
}

export function tempPathFor(path: string): string {
  return join(dirname(path), `${TEMP_PREFIX}${basename(path)}.${process.pid}.${uniqueToken()}`);
}

function encodeBounded(path: string, data: string | Buffer, opts: AtomicWriteOptions): Buffer {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const maxBytes = opts.maxBytes ?? MAX_STATE_FILE_BYTES;
  if (bytes.length > maxBytes) {
    throw new Error(`${path}: ${bytes.length} bytes is over the ${maxBytes}-byte state file limit`);
  }
  return bytes;
}

/** A filesystem without fsync (some FUSE ones) has nothing better to offer: go on. */
const NO_FSYNC = ["ENOSYS", "EINVAL", "ENOTSUP"];

export async function writeFileAtomic(
  path: string,
  data: string,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  const bytes = encodeBounded(path, data, opts);
  const temp = tempPathFor(path);
  const handle = await open(temp, "wx", opts.mode);
  try {
    try {
      await handle.writeFile(bytes);
      // The data must be on disk before the rename makes it the file: otherwise a
      // power cut can leave the new name pointing at an empty file. A filesystem
      // without fsync (some FUSE ones) has nothing better to offer: go on.
      await handle.sync().catch((err: unknown) => {
        if (!NO_FSYNC.includes((err as NodeJS.ErrnoException).code ?? "")) throw err;
      });
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
  await syncDir(dirname(path));
}

/**
 * Replaces `path` atomically (temp file, rename) without fsync: for hints
 * that a power cut may lose, never for state (lock stamps, lock claims).
 */
export async function writeFileReplacing(path: string, data: string): Promise<void> {
  const temp = tempPathFor(path);
  try {
    // No mode: stateDir's lock dir is 0700, and pmxcfs imposes its own.
    await writeFile(temp, data, { flag: "wx" });
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
}

/** Makes a rename/unlink in `dir` durable; best effort (pmxcfs and some filesystems refuse a directory fsync). */
export async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {}
}

/**
 * writeFileAtomic for synchronous callers, with the same steps and the same
 * durability: the hookscript records its journal item this way while a VM
 * start waits (no thread pool, no fs/promises to load; local files only).
 */
export function writeFileAtomicSync(
  path: string,
  data: string | Buffer,
  opts: AtomicWriteOptions = {},
): void {
  const bytes = encodeBounded(path, data, opts);
  const temp = tempPathFor(path);
  const fd = openSync(temp, "wx", opts.mode);
  try {
    try {
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
      try {
        fsyncSync(fd);
      } catch (err) {
        if (!NO_FSYNC.includes((err as NodeJS.ErrnoException).code ?? "")) throw err;
      }
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {}
    throw err;
  }
  syncDirSync(dirname(path));
}

/** syncDir for synchronous callers. */
export function syncDirSync(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {}
}
