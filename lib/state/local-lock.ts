import { linkSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
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
  steadyLease,
  type WithLock,
} from "./lock-common.ts";
import { type LockStamp, readStamp, stampReleased, stampTaken } from "./lock-stamp.ts";
import { makeDirs, makeDirsSync } from "./make-dirs.ts";
import { warnOnStderr } from "./warn.ts";

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
//
// Each step is one or two system calls on a local directory, so they are made
// synchronously, for the async callers too: the hookscript takes this lock
// while a VM start waits (withLocalLockSync), with no thread pool to start.

/** A lock file that does not parse is only trusted for this long (a crash can leave an empty file). */
const UNREADABLE_GRACE_MS = 5_000;

export interface LocalLockOptions {
  /** Told when something odd but survivable happens (a lock we held was broken by someone else). */
  warn?: (message: string) => void;
}

export function localLocks(dir: string, options: LocalLockOptions = {}): WithLock {
  const warn = options.warn ?? warnOnStderr;
  return async <T>(
    name: string,
    fn: (lease: LockLease) => Promise<T>,
    opts: LockOptions = {},
  ): Promise<T> => {
    checkLockName(name);
    const path = localLockPath(dir, name);
    await makeDirs(dir, { mode: 0o700 });
    const take = attempt(name, path, opts);
    while (!take.now()) await take.backoff.wait(take.deadline);
    const me = take.me;
    let stamp: { previous: LockStamp | undefined; gen: number } | undefined;
    try {
      if (isStampedLock("node", name)) stamp = await stampTaken(path);
    } catch (err) {
      release(path, me, warn);
      throw err;
    }
    try {
      return await fn(steadyLease(stamp?.previous));
    } finally {
      // Released before the lock goes: a crash in between leaves "released", which our work was.
      if (stamp && holds(path, me)) await stampReleased(path, stamp.gen).catch(() => {});
      release(path, me, warn);
    }
  };
}

/** localLocks' lock for synchronous work: waits for a busy lock by blocking this thread. */
export function withLocalLockSync<T>(
  dir: string,
  name: string,
  fn: () => T,
  opts: LockOptions & LocalLockOptions = {},
): T {
  checkLockName(name);
  // The hookscript's locks (journal items) keep no stamp; a stamped lock is taken by localLocks only.
  if (isStampedLock("node", name))
    throw new Error(`withLocalLockSync: ${name} keeps a "released since" stamp`);
  const path = localLockPath(dir, name);
  makeDirsSync(dir, { mode: 0o700 });
  const take = attempt(name, path, opts);
  while (!take.now()) take.backoff.waitSync(take.deadline);
  try {
    return fn();
  } finally {
    release(path, take.me, opts.warn ?? warnOnStderr);
  }
}

/**
 * The take loop's state, shared by the async and the synchronous lock:
 * `now()` is one attempt (true once taken; throws when the deadline passed),
 * the caller waits `backoff` between attempts its own way.
 */
function attempt(name: string, path: string, opts: LockOptions) {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const me = currentHolder();
  return {
    me,
    deadline,
    backoff: new Backoff(),
    now(): boolean {
      const busy = tryTake(path, me);
      if (!busy) return true;
      if (Date.now() >= deadline) throw new LockTimeoutError(`${name} (${path})`, busy.holder, timeoutMs);
      return false;
    },
  };
}

/** One attempt: undefined once `me` holds the lock, else who holds it (a stale holder is broken first). */
function tryTake(path: string, me: Holder): Seen | undefined {
  for (;;) {
    if (createExclusive(path, me)) return undefined;
    const seen = look(path);
    if (seen === undefined) continue; // released between our attempt and our look: try again at once
    if (isStale(seen) && breakStale(path, seen)) continue;
    return seen;
  }
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

/** Creates `path` containing `holder`, or returns false when it exists. */
function createExclusive(path: string, holder: Holder): boolean {
  const temp = tempPathFor(path);
  writeFileSync(temp, JSON.stringify(holder), { flag: "wx", mode: 0o600 });
  try {
    linkSync(temp, path);
    return true;
  } catch (err) {
    if (errnoCode(err) === "EEXIST") return false;
    throw err;
  } finally {
    unlinkQuietly(temp);
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}

/** What holds `path` now; undefined when nothing does. */
function look(path: string): Seen | undefined {
  try {
    const text = readFileSync(path, "utf8");
    const st = statSync(path);
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
function breakStale(path: string, judged: Seen): boolean {
  const guardPath = `${path}.break`;
  const guard = currentHolder();
  if (!createExclusive(guardPath, guard)) {
    // Someone else is breaking it right now (they hold the guard for microseconds).
    // A guard left by a breaker that died mid-break is itself stale: remove it.
    // (Only that crash plus two simultaneous breakers could race here.)
    const other = look(guardPath);
    if (other && isStale(other)) unlinkQuietly(guardPath);
    return false;
  }
  try {
    const now = look(path);
    if (now && sameLock(now, judged) && isStale(now)) unlinkQuietly(path);
    return true;
  } finally {
    unlinkQuietly(guardPath);
  }
}

/** Whether `holder` still holds the lock at `path`. */
function holds(path: string, holder: Holder): boolean {
  try {
    return look(path)?.holder?.token === holder.token;
  } catch {
    return false;
  }
}

function release(path: string, holder: Holder, warn: (m: string) => void): void {
  let seen: Seen | undefined;
  try {
    seen = look(path);
  } catch {}
  if (seen?.holder?.token !== holder.token) {
    warn(`lock ${path} was no longer ours at release (taken over as stale?); leaving it alone`);
    return;
  }
  unlinkQuietly(path);
}
