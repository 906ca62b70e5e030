import { link, readFile, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode } from "../errors.ts";
import { tempPathFor } from "./atomic-write.ts";
import { currentHolder, type Holder, holderAlive, parseHolder } from "./holder.ts";
import {
  Backoff,
  checkLockName,
  DEFAULT_LOCK_TIMEOUT_MS,
  isStampedLock,
  type LockLease,
  type LockOptions,
  LockTimeoutError,
  STEADY_SIGNAL,
  type WithLock,
} from "./lock-common.ts";
import { type LockStamp, readStamp, stampReleased, stampTaken } from "./lock-stamp.ts";
import { makeDirs } from "./make-dirs.ts";

// An exclusive lock between processes on this node, in stateDir/locks.
// Node has no flock(2), so: a lock file created atomically with its holder
// inside (written to a temp file, then link(2)ed to the lock name: link fails
// with EEXIST if the lock exists, and the lock never exists half-written).
// A holder that died (pid gone, pid reused, or written before a reboot)
// leaves a stale lock that the next waiter breaks.
//
// Breaking is the delicate part: two waiters that both saw the same dead
// holder must not both delete "the lock", or the second deletes the fresh
// lock the first just took. So breaking happens under a second, short-lived
// guard file (<name>.lock.break), and under it the lock is re-read and only
// removed if it is still the very one (same token) that was judged stale.

/** A lock file that does not parse is only trusted for this long (a crash can leave an empty file). */
const UNREADABLE_GRACE_MS = 5_000;

export interface LocalLockOptions {
  /** Told when something odd but survivable happens (a lock we held was broken by someone else). */
  warn?: (message: string) => void;
}

export function localLocks(dir: string, options: LocalLockOptions = {}): WithLock {
  const warn = options.warn ?? ((m: string) => process.stderr.write(`pvemigrate-dns: ${m}\n`));
  return async <T>(
    name: string,
    fn: (lease: LockLease) => Promise<T>,
    opts: LockOptions = {},
  ): Promise<T> => {
    checkLockName(name);
    const path = localLockPath(dir, name);
    const holder = await acquire(dir, path, name, opts.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
    let stamp: { previous: LockStamp | undefined; gen: number } | undefined;
    try {
      if (isStampedLock("node", name)) stamp = await stampTaken(path);
    } catch (err) {
      await release(path, holder, warn);
      throw err;
    }
    try {
      return await fn({ signal: STEADY_SIGNAL, previous: stamp?.previous });
    } finally {
      await release(path, holder, warn, stamp?.gen);
    }
  };
}

const localLockPath = (dir: string, name: string) => join(dir, `${name}.lock`);

/** The "released since" stamp of the local lock `name` now (lock-stamp.ts). */
export function localLockStamp(dir: string, name: string): Promise<LockStamp | undefined> {
  checkLockName(name);
  return readStamp(localLockPath(dir, name));
}

interface Seen {
  holder: Holder | undefined;
  mtimeMs: number;
}

async function acquire(dir: string, path: string, name: string, timeoutMs: number): Promise<Holder> {
  await makeDirs(dir, { mode: 0o700 });
  const deadline = Date.now() + timeoutMs;
  const backoff = new Backoff();
  const me = currentHolder();
  for (;;) {
    if (await createExclusive(path, me)) return me;
    const seen = await look(path);
    if (seen === undefined) continue; // released between our attempt and our look: try again at once
    if (isStale(seen) && (await breakStale(path, seen))) continue;
    if (Date.now() >= deadline) throw new LockTimeoutError(`${name} (${path})`, seen.holder, timeoutMs);
    await backoff.wait(deadline);
  }
}

/** Creates `path` containing `holder`, or returns false when it exists. */
async function createExclusive(path: string, holder: Holder): Promise<boolean> {
  const temp = tempPathFor(path);
  await writeFile(temp, JSON.stringify(holder), { flag: "wx", mode: 0o600 });
  try {
    await link(temp, path);
    return true;
  } catch (err) {
    if (errnoCode(err) === "EEXIST") return false;
    throw err;
  } finally {
    await unlink(temp).catch(() => {});
  }
}

/** What holds `path` now; undefined when nothing does. */
async function look(path: string): Promise<Seen | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(path, "utf8"), stat(path)]);
    return { holder: parseHolder(text), mtimeMs: st.mtimeMs };
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw err;
  }
}

function isStale(seen: Seen): boolean {
  if (seen.holder) return !holderAlive(seen.holder);
  return Date.now() - seen.mtimeMs > UNREADABLE_GRACE_MS;
}

function sameLock(a: Seen, b: Seen): boolean {
  return a.holder && b.holder ? a.holder.token === b.holder.token : a.mtimeMs === b.mtimeMs;
}

/** Removes the stale lock `judged`; false when another process is busy breaking it. */
async function breakStale(path: string, judged: Seen): Promise<boolean> {
  const guardPath = `${path}.break`;
  const guard = currentHolder();
  if (!(await createExclusive(guardPath, guard))) {
    // Someone else is breaking it right now (they hold the guard for microseconds).
    // A guard left by a breaker that died mid-break is itself stale: remove it.
    // (Only that crash plus two simultaneous breakers could race here.)
    const other = await look(guardPath);
    if (other && isStale(other)) await unlink(guardPath).catch(() => {});
    return false;
  }
  try {
    const now = await look(path);
    if (now && sameLock(now, judged) && isStale(now)) await unlink(path).catch(() => {});
    return true;
  } finally {
    await unlink(guardPath).catch(() => {});
  }
}

async function release(path: string, holder: Holder, warn: (m: string) => void, gen?: number): Promise<void> {
  const seen = await look(path).catch(() => undefined);
  if (seen?.holder?.token !== holder.token) {
    warn(`lock ${path} was no longer ours at release (taken over as stale?); leaving it alone`);
    return;
  }
  // Released before the lock goes: a crash in between leaves "released", which our work was.
  if (gen !== undefined) await stampReleased(path, gen).catch(() => {});
  await unlink(path).catch(() => {});
}
