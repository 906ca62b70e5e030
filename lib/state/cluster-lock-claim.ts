import { readdir, readFile, rmdir, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { errnoCode } from "../errors.ts";
import { writeFileReplacing } from "./atomic-write.ts";
import { look, type SeenLock, takeGuard } from "./cluster-lock-holder.ts";
import { deadOnThisHost, type Holder, parseHolder } from "./holder.ts";

// Who is about to create a cluster lock: a "claim" written BEFORE the mkdir
// (<lockDir>.claim-<token>, beside the lock like the holder record), removed
// once the holder record is written, or at once when the mkdir finds the lock
// taken. A process killed between its mkdir and its holder record used to
// leave a lock nobody could judge (no record: no pid to check), which every
// waiter then waited out until pmxcfs's 120 s expiry. With claims, a lock
// directory without its own holder record is provably ownerless when every
// claim beside it is a process of this host that is gone: its creator wrote one
// of them (its claim lives until its record does), and none of them is alive
// to write a record now. A live claim, one from another node (a pid means
// nothing on another kernel: that node's timer sweeps it), or no claim at all
// (a creator of an older version) leaves the lock to its expiry, as before.

export const claimPrefix = (lockDir: string) => `${basename(lockDir)}.claim-`;

/** Before the mkdir: says who is about to create the lock. No fsync: a power cut ends the claimant too. */
export async function writeClaim(lockDir: string, holder: Holder): Promise<string> {
  const path = join(dirname(lockDir), `${claimPrefix(lockDir)}${holder.token}`);
  await writeFileReplacing(path, JSON.stringify(holder));
  return path;
}

export async function dropClaim(path: string): Promise<void> {
  await unlink(path).catch(() => {});
}

interface Claim {
  path: string;
  holder: Holder | undefined;
}

async function claimsOf(lockDir: string): Promise<Claim[]> {
  const prefix = claimPrefix(lockDir);
  const names = await readdir(dirname(lockDir)).catch(() => [] as string[]);
  return Promise.all(
    names
      .filter((n) => n.startsWith(prefix))
      .map(async (n) => {
        const path = join(dirname(lockDir), n);
        const text = await readFile(path, "utf8").catch(() => "");
        return { path, holder: parseHolder(text) };
      }),
  );
}

/** The lock has no holder record of its own, and every claim beside it (one at least) is a gone process of this host. */
async function deadClaimsOfOwnerless(lockDir: string, seen: SeenLock): Promise<Claim[] | undefined> {
  if (seen.holder && seen.holder.lockMtimeMs === seen.mtimeMs) return undefined;
  const claims = await claimsOf(lockDir);
  if (claims.length === 0) return undefined;
  return claims.every((c) => c.holder && deadOnThisHost(c.holder)) ? claims : undefined;
}

/**
 * Removes the lock `judged` when it is ownerless and its creator provably
 * gone (see the top), and the dead claims with it. Under the same guard as
 * breakDeadLock, and judged again under it, so two waiters cannot remove the
 * fresh lock one of them takes right after. True when it removed the lock.
 */
export async function breakOwnerlessLock(
  lockDir: string,
  judged: SeenLock,
  guardStaleMs: number,
): Promise<boolean> {
  if (!(await deadClaimsOfOwnerless(lockDir, judged))) return false;
  const guard = `${lockDir}.takeover`;
  if (!(await takeGuard(guard, guardStaleMs))) return false;
  try {
    const now = await look(lockDir);
    if (!now || now.mtimeMs !== judged.mtimeMs) return false;
    const dead = await deadClaimsOfOwnerless(lockDir, now);
    if (!dead) return false;
    // Proxmox's own release is this same rmdir (PVE::Cluster cfs_lock); nothing is ever written inside.
    await rmdir(lockDir).catch((err: unknown) => {
      if (errnoCode(err) !== "ENOENT") throw err;
    });
    for (const c of dead) await dropClaim(c.path);
    return true;
  } finally {
    await rmdir(guard).catch(() => {});
  }
}

/** Claims of gone processes of this host beside no lock (a claimant killed before its mkdir or its cleanup): removed. */
export async function dropDeadClaims(lockDir: string, lockExists: boolean): Promise<void> {
  if (lockExists) return;
  for (const c of await claimsOf(lockDir)) if (c.holder && deadOnThisHost(c.holder)) await dropClaim(c.path);
}
