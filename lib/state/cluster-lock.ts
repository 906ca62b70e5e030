import {
  mkdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  statfs,
  unlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { PeerError } from "../errors.ts";
import { currentHolder, type Holder, newToken, parseHolder } from "./holder.ts";
import {
  Backoff,
  checkLockName,
  DEFAULT_LOCK_TIMEOUT_MS,
  errnoCode,
  type LockOptions,
  LockTimeoutError,
  type WithLock,
} from "./lock-common.ts";

// A cluster-wide lock the way Proxmox takes its own (PVE::Cluster::cfs_lock):
// `mkdir <pveRoot>/priv/lock/<name>`; pmxcfs replicates the mkdir through
// corosync, so exactly one node's mkdir succeeds. pmxcfs expires such a lock
// 120 s after it was taken or last renewed (utime with the current time), and
// a waiter asks pmxcfs to drop an expired one with utime(0, 0).
//
// On a plain directory (tests, or a dev box) nothing expires locks, so the
// same rules are emulated: a lock directory whose mtime is older than 120 s
// is stale and may be taken over; the holder renews by touching it. There, a
// holder.json inside names the node/pid/time for whoever finds it stuck.

export const PMXCFS_LOCK_EXPIRY_MS = 120_000;
const FUSE_SUPER_MAGIC = 0x65735546;
/** Keeps our names apart from Proxmox's own locks in the shared priv/lock. */
const NAME_PREFIX = "pvemigrate-dns-";
const HOLDER_FILE = "holder.json";

export interface ClusterLockOptions {
  /** Whether pveRoot is a real pmxcfs mount; detected (FUSE) when unset. */
  pmxcfs?: boolean;
  /** Emulated expiry on a plain directory; only tests change it. */
  staleMs?: number;
  /** How often a holder renews its lock; default a quarter of staleMs. */
  renewEveryMs?: number;
  warn?: (message: string) => void;
}

export function clusterLocks(pveRoot: string, options: ClusterLockOptions = {}): WithLock {
  const staleMs = options.staleMs ?? PMXCFS_LOCK_EXPIRY_MS;
  const renewEveryMs = options.renewEveryMs ?? Math.floor(staleMs / 4);
  const warn = options.warn ?? ((m: string) => process.stderr.write(`pvemigrate-dns: ${m}\n`));
  let pmxcfs: Promise<boolean> | undefined;
  const isPmxcfs = () => {
    pmxcfs ??= options.pmxcfs !== undefined ? Promise.resolve(options.pmxcfs) : detectFuse(pveRoot);
    return pmxcfs;
  };

  return async <T>(name: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> => {
    checkLockName(name);
    const lockDir = join(pveRoot, "priv", "lock", `${NAME_PREFIX}${name}`);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    const real = await isPmxcfs();
    const holder = await acquire(lockDir, real, staleMs, timeoutMs);
    // Renew so a long step is not expired under us: the "cfs lock update request"
    // Proxmox's HA manager sends, utime(atime 0, mtime now).
    const timer = setInterval(() => {
      utimes(lockDir, 0, new Date()).catch(() => {});
    }, renewEveryMs);
    timer.unref();
    try {
      return await fn();
    } finally {
      clearInterval(timer);
      await release(lockDir, holder, warn);
    }
  };
}

async function detectFuse(path: string): Promise<boolean> {
  try {
    return (await statfs(path)).type === FUSE_SUPER_MAGIC;
  } catch {
    return false;
  }
}

async function acquire(
  lockDir: string,
  pmxcfs: boolean,
  staleMs: number,
  timeoutMs: number,
): Promise<Holder> {
  const deadline = Date.now() + timeoutMs;
  const backoff = new Backoff(5, 250);
  for (;;) {
    const holder = currentHolder();
    if (await makeLockDir(lockDir, pmxcfs)) {
      // Not on pmxcfs: a file inside could keep pmxcfs from expiring the lock directory
      // of a dead holder, and Proxmox never puts one there either.
      if (!pmxcfs) await writeFile(join(lockDir, HOLDER_FILE), JSON.stringify(holder));
      return holder;
    }
    if (pmxcfs) {
      // The cfs "unlock request": pmxcfs removes the lock if it has expired.
      await utimes(lockDir, 0, 0).catch(() => {});
    } else {
      const seen = await mtimeOf(lockDir);
      if (seen === undefined) continue; // released meanwhile
      if (Date.now() - seen > staleMs && (await takeOver(lockDir, seen, staleMs))) continue;
    }
    if (Date.now() >= deadline) {
      throw new LockTimeoutError(lockDir, await readHolder(lockDir), timeoutMs);
    }
    await backoff.wait(deadline);
  }
}

/** mkdir the lock; false when it exists. */
async function makeLockDir(lockDir: string, pmxcfs: boolean): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      await mkdir(lockDir);
      return true;
    } catch (err) {
      const code = errnoCode(err);
      if (code === "EEXIST") return false;
      if (code === "ENOENT" && !pmxcfs && attempt === 0) {
        await mkdir(join(lockDir, ".."), { recursive: true });
        continue;
      }
      throw new PeerError(
        `cluster lock ${lockDir}: mkdir failed (${code ?? String(err)}); is pmxcfs read-only (no quorum)?`,
      );
    }
  }
}

async function mtimeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw err;
  }
}

async function readHolder(lockDir: string): Promise<Holder | undefined> {
  try {
    return parseHolder(await readFile(join(lockDir, HOLDER_FILE), "utf8"));
  } catch {
    return undefined;
  }
}

/**
 * Emulated expiry: removes the stale lock directory last seen with mtime
 * `judgedMtime`. Two waiters may judge it stale at once; a `.takeover` guard
 * lets only one of them re-check and remove it, so the other cannot delete
 * the fresh lock the first one takes right after.
 */
async function takeOver(lockDir: string, judgedMtime: number, staleMs: number): Promise<boolean> {
  const guard = `${lockDir}.takeover`;
  try {
    await mkdir(guard);
  } catch (err) {
    if (errnoCode(err) !== "EEXIST") throw err;
    // A guard older than the expiry belongs to a waiter that died mid-takeover.
    const guardMtime = await mtimeOf(guard);
    if (guardMtime !== undefined && Date.now() - guardMtime > staleMs)
      await rm(guard, { recursive: true, force: true });
    return false;
  }
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

async function release(lockDir: string, holder: Holder, warn: (m: string) => void): Promise<void> {
  const seen = await readHolder(lockDir);
  if (seen && seen.token !== holder.token) {
    warn(
      `cluster lock ${lockDir} was taken over by ${seen.node} pid ${seen.pid} (expired?); leaving it alone`,
    );
    return;
  }
  await unlink(join(lockDir, HOLDER_FILE)).catch(() => {});
  await rmdir(lockDir).catch((err: unknown) => {
    if (errnoCode(err) !== "ENOENT")
      warn(`cluster lock ${lockDir}: release failed (${errnoCode(err) ?? err})`);
  });
}
