import { mkdir, readFile, rename, rm, rmdir, stat, unlink } from "node:fs/promises";
import { errnoCode } from "../errors.ts";
import { writeFileAtomic } from "./atomic-write.ts";
import { deadOnThisHost, type Holder, newToken, parseHolder } from "./holder.ts";
import { parseJsonObject } from "./read.ts";

// Who holds a cluster lock, recorded BESIDE the lock directory
// (<lockDir>.holder), never inside it: pmxcfs expires a lock by deleting its
// directory, and memdb_delete refuses a directory that is not empty
// (pve-cluster src/pmxcfs/memdb.c), so a file inside would keep a dead
// holder's lock forever.
//
// A record outlives its lock when its holder dies, and a new holder writes its
// own only after its mkdir. So the record names the lock directory's mtime as
// its holder last set it (at creation and at each renewal): a waiter trusts a
// record only while the directory still has that mtime, which another
// holder's directory (created after the 120 s expiry) never has.

/** pmxcfs expires a cluster lock this long after it was taken or last renewed. */
export const PMXCFS_LOCK_EXPIRY_MS = 120_000;
/** Keeps our names apart from Proxmox's own locks in the shared priv/lock. */
export const NAME_PREFIX = "pvemigrate-dns-";

export interface ClusterHolder extends Holder {
  /** mtime (ms) of the lock directory when the holder took or last renewed it. */
  lockMtimeMs: number;
}

export interface SeenLock {
  holder: ClusterHolder | undefined;
  mtimeMs: number;
}

export const holderPath = (lockDir: string) => `${lockDir}.holder`;

export async function writeHolder(lockDir: string, holder: Holder): Promise<ClusterHolder> {
  const lockMtimeMs = await mtimeOf(lockDir);
  if (lockMtimeMs === undefined) throw Object.assign(new Error(`${lockDir} vanished`), { code: "ENOENT" });
  const record: ClusterHolder = { ...holder, lockMtimeMs };
  // No mode: pmxcfs imposes its own (0600 under priv/).
  await writeFileAtomic(holderPath(lockDir), JSON.stringify(record));
  return record;
}

export async function readHolder(lockDir: string): Promise<ClusterHolder | undefined> {
  let text: string;
  try {
    text = await readFile(holderPath(lockDir), "utf8");
  } catch {
    return undefined;
  }
  const holder = parseHolder(text);
  const mtime = parseJsonObject(text)?.lockMtimeMs;
  return holder && typeof mtime === "number" ? { ...holder, lockMtimeMs: mtime } : undefined;
}

export async function mtimeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw err;
  }
}

/** The lock as it is now; undefined when nobody holds it. */
export async function look(lockDir: string): Promise<SeenLock | undefined> {
  const mtimeMs = await mtimeOf(lockDir);
  if (mtimeMs === undefined) return undefined;
  return { holder: await readHolder(lockDir), mtimeMs };
}

/**
 * The lock is held by a process of this host's current boot that is gone:
 * the record is the directory's own (same mtime) and its pid is dead or reused.
 */
export function heldByTheDead(seen: SeenLock): boolean {
  return !!seen.holder && seen.holder.lockMtimeMs === seen.mtimeMs && deadOnThisHost(seen.holder);
}

/**
 * Removes the lock `judged` of a dead holder of this host. Two waiters of this
 * host may judge it at once: a guard directory lets one of them re-check and
 * remove it, so the other cannot delete the fresh lock the first takes right
 * after. False when another waiter holds the guard.
 */
export async function breakDeadLock(
  lockDir: string,
  judged: SeenLock,
  guardStaleMs: number,
): Promise<boolean> {
  const guard = `${lockDir}.takeover`;
  if (!(await takeGuard(guard, guardStaleMs))) return false;
  try {
    const now = await look(lockDir);
    if (
      now &&
      now.mtimeMs === judged.mtimeMs &&
      now.holder?.token === judged.holder?.token &&
      heldByTheDead(now)
    ) {
      await unlink(holderPath(lockDir)).catch(() => {});
      // Proxmox's own release is this same rmdir (PVE::Cluster cfs_lock).
      await rmdir(lockDir).catch((err: unknown) => {
        if (errnoCode(err) !== "ENOENT") throw err;
      });
    }
    return true;
  } finally {
    await rmdir(guard).catch(() => {});
  }
}

/** mkdir the guard; a guard older than `staleMs` belongs to a waiter that died mid-takeover. */
export async function takeGuard(guard: string, staleMs: number): Promise<boolean> {
  try {
    await mkdir(guard);
    return true;
  } catch (err) {
    if (errnoCode(err) !== "EEXIST") throw err;
    const guardMtime = await mtimeOf(guard);
    if (guardMtime !== undefined && Date.now() - guardMtime > staleMs) await rmdir(guard).catch(() => {});
    return false;
  }
}

/**
 * Emulated expiry: removes the stale lock directory last seen with mtime
 * `judgedMtime`. Two waiters may judge it stale at once; a `.takeover` guard
 * lets only one of them re-check and remove it, so the other cannot delete
 * the fresh lock the first one takes right after.
 */
export async function takeOver(lockDir: string, judgedMtime: number, staleMs: number): Promise<boolean> {
  const guard = `${lockDir}.takeover`;
  if (!(await takeGuard(guard, staleMs))) return false;
  try {
    const now = await mtimeOf(lockDir);
    if (now === judgedMtime && Date.now() - now > staleMs) {
      // Rename first: a half-deleted directory must never look like a held lock.
      const aside = `${lockDir}.stale-${newToken()}`;
      await rename(lockDir, aside);
      await rm(aside, { recursive: true, force: true });
    }
    return true;
  } finally {
    await rmdir(guard).catch(() => {});
  }
}
