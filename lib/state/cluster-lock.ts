import { mkdir, rmdir, statfs, unlink, utimes } from "node:fs/promises";
import { dirname, join } from "node:path";
import { errnoCode, messageOf, PeerError } from "../errors.ts";
import { breakOwnerlessLock, dropClaim, writeClaim } from "./cluster-lock-claim.ts";
import {
  breakDeadLock,
  type ClusterHolder,
  heldByTheDead,
  holderPath,
  look,
  NAME_PREFIX,
  PMXCFS_LOCK_EXPIRY_MS,
  readHolder,
  takeOver,
  writeHolder,
} from "./cluster-lock-holder.ts";
import { crashPoint } from "./crash-point.ts";
import { currentHolder, describeHolder, type Holder } from "./holder.ts";
import {
  Backoff,
  checkLockName,
  DEFAULT_LOCK_TIMEOUT_MS,
  isStampedLock,
  type LockLease,
  LockLostError,
  type LockOptions,
  LockTimeoutError,
  type WithLock,
} from "./lock-common.ts";
import { type LockStamp, readStamp, stampReleased, stampTaken } from "./lock-stamp.ts";
import { warnOnStderr } from "./warn.ts";

// A cluster-wide lock the way Proxmox takes its own (PVE::Cluster::cfs_lock):
// `mkdir <pveRoot>/priv/lock/<name>`; pmxcfs replicates the mkdir through
// corosync, so exactly one node's mkdir succeeds. pmxcfs expires such a lock
// 120 s after it was taken or last renewed (utime with the current time), and
// a waiter asks pmxcfs to drop an expired one with utime(0, 0).
//
// On a plain directory (tests, or a dev box) nothing expires locks, so the
// same rules are emulated: a lock directory whose mtime is older than 120 s
// is stale and may be taken over; the holder renews by touching it.
//
// Beyond pmxcfs: the holder is recorded beside the lock (node, pid, pid start
// time, boot id; cluster-lock-holder.ts). A lock whose holder was a process of
// this very host that is dead now is broken at once, instead of blocking DNS
// work cluster-wide until pmxcfs expires it 120 s later. A renewal that fails
// (no quorum, the lock expired and went to someone else) is logged, and the
// work under the lock learns it through its lease's signal, as the HA manager
// logs "lost lock" when its utime update fails (pve-ha-manager
// src/PVE/HA/Env/PVE2.pm get_pve_lock).

const FUSE_SUPER_MAGIC = 0x65735546;

export { PMXCFS_LOCK_EXPIRY_MS } from "./cluster-lock-holder.ts";
export { breakDeadClusterLocks } from "./cluster-lock-sweep.ts";

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
  const warn = options.warn ?? warnOnStderr;
  let pmxcfs: Promise<boolean> | undefined;
  const isPmxcfs = () => {
    pmxcfs ??= options.pmxcfs !== undefined ? Promise.resolve(options.pmxcfs) : detectFuse(pveRoot);
    return pmxcfs;
  };

  return async <T>(
    name: string,
    fn: (lease: LockLease) => Promise<T>,
    opts: LockOptions = {},
  ): Promise<T> => {
    const lockDir = clusterLockDir(pveRoot, name);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    const real = await isPmxcfs();
    const holder = await acquire(lockDir, real, staleMs, timeoutMs, warn);
    let stamp: { previous: LockStamp | undefined; gen: number } | undefined;
    try {
      if (isStampedLock("cluster", name)) stamp = await stampTaken(lockDir);
    } catch (err) {
      await release(lockDir, holder, warn);
      throw new PeerError(
        `cluster lock ${lockDir}: cannot stamp it taken (${errnoCode(err) ?? messageOf(err)})`,
      );
    }
    crashPoint(`cluster lock ${name}: taken`);
    const renewal = renewEvery(lockDir, holder, renewEveryMs, warn);
    try {
      return await fn({ signal: renewal.lost.signal, previous: stamp?.previous });
    } finally {
      renewal.stop();
      await renewal.idle();
      // Still ours after a failed renewal (no quorum): released if pmxcfs lets us, else it expires.
      await release(lockDir, holder, renewal.lost.signal.aborted ? () => {} : warn, stamp?.gen);
    }
  };
}

function clusterLockDir(pveRoot: string, name: string): string {
  checkLockName(name);
  return join(pveRoot, "priv", "lock", `${NAME_PREFIX}${name}`);
}

/** The "released since" stamp of the cluster lock `name` now (lock-stamp.ts). */
export function clusterLockStamp(pveRoot: string, name: string): Promise<LockStamp | undefined> {
  return readStamp(clusterLockDir(pveRoot, name));
}

const RENEW_FAILURE: Record<string, string> = {
  ENOENT: ": the lock directory is gone (expired)",
  EACCES: ": pmxcfs refused the update (no quorum?)",
};

/**
 * Renews the lock every `everyMs` so a long step is not expired under us: the
 * "cfs lock update request" of the HA manager, utime(atime 0, mtime now),
 * which pmxcfs only accepts from the node that created the lock. The first
 * failure ends the renewals and aborts `lost`.
 */
function renewEvery(lockDir: string, holder: ClusterHolder, everyMs: number, warn: (m: string) => void) {
  const lost = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const lose = (why: string) => {
    warn(
      `cluster lock ${lockDir}: renewal failed, the lock is lost (${why}); work under it may overlap another holder's`,
    );
    lost.abort(new LockLostError(lockDir, why));
  };
  const renew = async () => {
    const seen = await readHolder(lockDir);
    if (seen?.token !== holder.token) {
      lose(seen ? `now held by ${describeHolder(seen)}` : "its holder record is gone");
      return;
    }
    try {
      await utimes(lockDir, 0, new Date());
      Object.assign(holder, await writeHolder(lockDir, holder));
    } catch (err) {
      const code = errnoCode(err);
      lose(code ? `${code}${RENEW_FAILURE[code] ?? ""}` : messageOf(err));
    }
  };
  const schedule = () => {
    timer = setTimeout(() => {
      running = renew().then(() => {
        if (!lost.signal.aborted && timer !== undefined) schedule();
      });
    }, everyMs);
    timer.unref();
  };
  schedule();
  return {
    lost,
    stop: () => {
      clearTimeout(timer);
      timer = undefined;
    },
    idle: () => running,
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
  warn: (m: string) => void,
): Promise<ClusterHolder> {
  const deadline = Date.now() + timeoutMs;
  const backoff = new Backoff(5, 250);
  for (;;) {
    const me = currentHolder();
    // Claimed before the mkdir (cluster-lock-claim.ts): killed before the holder record, we stay judgeable.
    const claim = await claimLock(lockDir, pmxcfs, me);
    try {
      if (await makeLockDir(lockDir)) return await recordHolder(lockDir, me);
    } finally {
      await dropClaim(claim);
    }
    const seen = await look(lockDir);
    if (seen === undefined) continue; // released meanwhile
    if (heldByTheDead(seen) && (await breakDeadLock(lockDir, seen, staleMs))) {
      warn(
        `cluster lock ${lockDir}: broke the lock of ${describeHolder(seen.holder)}, a process of this host that is gone`,
      );
      continue;
    }
    if (await breakOwnerlessLock(lockDir, seen, staleMs)) {
      warn(
        `cluster lock ${lockDir}: broke a lock without a holder record, whose creator (a process of this host) is gone`,
      );
      continue;
    }
    if (pmxcfs) {
      // The cfs "unlock request": pmxcfs removes the lock if it has expired.
      await utimes(lockDir, 0, 0).catch(() => {});
    } else if (Date.now() - seen.mtimeMs > staleMs && (await takeOver(lockDir, seen.mtimeMs, staleMs))) {
      continue;
    }
    if (Date.now() >= deadline) {
      throw new LockTimeoutError(lockDir, seen.holder, timeoutMs);
    }
    await backoff.wait(deadline);
  }
}

/** Records us as the holder of the lock we just created; without a record we give the lock back. */
async function recordHolder(lockDir: string, me: Holder): Promise<ClusterHolder> {
  try {
    return await writeHolder(lockDir, me);
  } catch (err) {
    await rmdir(lockDir).catch(() => {});
    throw new PeerError(
      `cluster lock ${lockDir}: cannot record the holder (${errnoCode(err) ?? messageOf(err)})`,
    );
  }
}

/**
 * Writes our claim beside the lock (cluster-lock-claim.ts). A missing
 * priv/lock is created first, as PVE::Cluster cfs_lock does (`mkdir
 * $lockdir`; pmxcfs always has priv/). Returns the claim's path.
 */
async function claimLock(lockDir: string, pmxcfs: boolean, me: Holder): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await writeClaim(lockDir, me);
    } catch (err) {
      if (errnoCode(err) === "ENOENT" && attempt === 0) {
        await mkdir(dirname(lockDir), { recursive: !pmxcfs }).catch((e: unknown) => {
          if (errnoCode(e) !== "EEXIST") throw lockDirError(lockDir, e);
        });
        continue;
      }
      throw lockDirError(lockDir, err);
    }
  }
}

/** mkdir the lock; false when it exists. */
async function makeLockDir(lockDir: string): Promise<boolean> {
  try {
    await mkdir(lockDir);
    return true;
  } catch (err) {
    if (errnoCode(err) === "EEXIST") return false;
    throw lockDirError(lockDir, err);
  }
}

function lockDirError(lockDir: string, err: unknown): PeerError {
  return new PeerError(
    `cluster lock ${lockDir}: mkdir failed (${errnoCode(err) ?? String(err)}); is pmxcfs read-only (no quorum) or not mounted?`,
  );
}

async function release(
  lockDir: string,
  holder: ClusterHolder,
  warn: (m: string) => void,
  gen?: number,
): Promise<void> {
  const seen = await readHolder(lockDir);
  if (seen?.token !== holder.token) {
    warn(
      `cluster lock ${lockDir} is no longer ours (${seen ? `held by ${describeHolder(seen)}` : "no holder record"}); leaving it alone`,
    );
    return;
  }
  // Released before the lock goes: a crash in between leaves "released", which our work was.
  if (gen !== undefined) await stampReleased(lockDir, gen).catch(() => {});
  await unlink(holderPath(lockDir)).catch(() => {});
  await rmdir(lockDir).catch((err: unknown) => {
    if (errnoCode(err) !== "ENOENT")
      warn(`cluster lock ${lockDir}: release failed (${errnoCode(err) ?? err})`);
  });
}
