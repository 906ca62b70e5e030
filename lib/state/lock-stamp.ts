import { readFile } from "node:fs/promises";
import { writeFileReplacing } from "./atomic-write.ts";
import { parseJsonObject } from "./read.ts";

// A lock's "released since" stamp, kept beside the lock (<lock>.stamp): a
// generation that every holder bumps right after taking the lock, before its
// work runs (`released: false`), and marks released when it lets go.
//
// Why: a run reads the cluster once, before it takes its locks. A step under
// a lock must not act on a view older than what an earlier holder of that
// lock acted on, or a late writer undoes a newer one. The earlier holders'
// views were read while they held the lock, so before they released it. So
// when the stamp read BEFORE the run's cluster read said "released,
// generation G", and the stamp the step finds right after taking the lock
// still says "released, generation G", nobody held the lock in between: every
// holder finished before the run's read began, and the run's view is newer
// than any of theirs. Anything else (another generation, a holder that never
// released because it died, a stamp missing or unreadable) means "read again".
// Generations, not times: the "dns" lock is shared by nodes whose clocks differ.
//
// What the stamp does not cover, and the old "read again after the lock" did
// not either: Proxmox itself moving a guest between the read and the step (a
// live migration's config move, qemu-server QemuMigrate.pm phase3_cleanup
// move_config_to_node; an HA recovery's, pve-ha-manager Env/PVE2.pm
// steal_service rename). No lock of ours orders those; what orders the DNS
// writes is that the move's own switch (the hook's worker on the new node, or
// that node's reconcile) takes these same locks after it and reads again,
// with compare-and-swap on every name, so the newest view writes last.
//
// A crash between taking the lock and bumping the stamp leaves the stamp as the
// last holder left it; that is right, since the crashed holder did nothing.
// The stamp is a hint, never the lock: it is written without fsync (a power cut
// ends every holder, and the next run reads the cluster after it anyway).

export interface LockStamp {
  /** Bumped by every holder right after it took the lock. */
  gen: number;
  /** The holder of `gen` let go of the lock (false: it holds it, or died holding it). */
  released: boolean;
}

export const stampPath = (lock: string) => `${lock}.stamp`;

/** The stamp beside `lock`; undefined when there is none or it does not parse (unknown: read again). */
export async function readStamp(lock: string): Promise<LockStamp | undefined> {
  let text: string;
  try {
    text = await readFile(stampPath(lock), "utf8");
  } catch {
    return undefined;
  }
  const raw = parseJsonObject(text);
  const gen = raw?.gen;
  if (typeof gen !== "number" || !Number.isSafeInteger(gen) || gen < 0) return undefined;
  return { gen, released: raw?.released === true };
}

/**
 * Right after taking `lock`, before any work under it: reads how the previous
 * holder left it and bumps the generation, held. A failure here must fail
 * the acquisition (the caller gives the lock back): work under a lock whose
 * stamp still says "released" would be invisible to the next holder.
 */
export async function stampTaken(lock: string): Promise<{ previous: LockStamp | undefined; gen: number }> {
  const previous = await readStamp(lock);
  // After a stamp that is missing or unreadable, a fresh random generation:
  // counting again from 1 could meet, a few holders later, the generation a
  // run marked before the stamp was lost, and pass for "nobody held it".
  const gen = previous ? previous.gen + 1 : 1 + Math.floor(Math.random() * 2 ** 40);
  await writeStamp(lock, { gen, released: false });
  return { previous, gen };
}

/** When letting go of `lock`: our generation `gen`, released (left alone when a later holder bumped it). */
export async function stampReleased(lock: string, gen: number): Promise<void> {
  if ((await readStamp(lock))?.gen === gen) await writeStamp(lock, { gen, released: true });
}

/** True when nobody held the lock between `mark` (read before a snapshot) and `previous` (read on taking it). */
export function unheldSince(mark: LockStamp | undefined, previous: LockStamp | undefined): boolean {
  return !!mark && !!previous && mark.released && previous.released && mark.gen === previous.gen;
}

function writeStamp(lock: string, stamp: LockStamp): Promise<void> {
  return writeFileReplacing(stampPath(lock), JSON.stringify(stamp));
}
