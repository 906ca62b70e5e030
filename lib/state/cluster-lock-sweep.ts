import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { breakOwnerlessLock, dropDeadClaims } from "./cluster-lock-claim.ts";
import {
  breakDeadLock,
  heldByTheDead,
  look,
  NAME_PREFIX,
  PMXCFS_LOCK_EXPIRY_MS,
} from "./cluster-lock-holder.ts";
import { describeHolder } from "./holder.ts";
import { warnOnStderr } from "./warn.ts";

// The timer's sweep of our cluster locks on the node whose process left them:
// only this host can judge its own pids, so a lock left by a dead process of
// this host (a holder killed under it, or a creator killed between its mkdir
// and its holder record: cluster-lock-claim.ts) would make waiters on other
// nodes wait out pmxcfs's 120 s expiry.

export interface SweepOptions {
  /** Emulated expiry on a plain directory (the takeover guard's own staleness); only tests change it. */
  staleMs?: number;
  warn?: (message: string) => void;
}

/**
 * Breaks our cluster locks whose holder was a process of this host that is
 * gone (a SIGKILLed worker). A waiter of this host breaks such a lock at once
 * anyway, but a waiter on another node cannot judge a pid of ours and would
 * wait for pmxcfs's 120 s expiry: so the timer's reconcile sweeps them on the
 * dead holder's own node. Returns the names it freed.
 */
export async function breakDeadClusterLocks(pveRoot: string, options: SweepOptions = {}): Promise<string[]> {
  const warn = options.warn ?? warnOnStderr;
  const staleMs = options.staleMs ?? PMXCFS_LOCK_EXPIRY_MS;
  const parent = join(pveRoot, "priv", "lock");
  const names = await readdir(parent).catch(() => [] as string[]);
  // Lock directories, and those only claims name (their creator gone before or after its mkdir).
  const locks = new Set(
    names.flatMap((n) => {
      if (!n.startsWith(NAME_PREFIX)) return [];
      if (!n.includes(".")) return [n];
      const claimed = n.split(".claim-");
      return claimed.length === 2 && claimed[0] && !claimed[0].includes(".") ? [claimed[0]] : [];
    }),
  );
  const freed: string[] = [];
  for (const entry of locks) {
    const lockDir = join(parent, entry);
    const seen = await look(lockDir);
    await dropDeadClaims(lockDir, seen !== undefined).catch(() => {});
    if (seen && (await breakOwnerlessLock(lockDir, seen, staleMs).catch(() => false))) {
      warn(
        `cluster lock ${lockDir}: broke a lock without a holder record, whose creator (a process of this host) is gone`,
      );
      freed.push(entry.slice(NAME_PREFIX.length));
      continue;
    }
    if (!seen || !heldByTheDead(seen)) continue;
    // Without quorum pmxcfs refuses the rmdir: it stays until quorum returns.
    await breakDeadLock(lockDir, seen, staleMs).catch(() => false);
    if ((await look(lockDir))?.holder?.token === seen.holder?.token) continue;
    warn(
      `cluster lock ${lockDir}: broke the lock of ${describeHolder(seen.holder)}, a process of this host that is gone`,
    );
    freed.push(entry.slice(NAME_PREFIX.length));
  }
  return freed;
}
