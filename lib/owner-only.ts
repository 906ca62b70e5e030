import type { Stats } from "node:fs";

// What root may trust of its own caches (the config cache, the V8 code
// caches): a file or directory that it owns and no group or other user can
// write, since whoever can write there decides what root runs or believes.
// Caches are kept only when running as root: another user's run would write
// entries root must then refuse.

/** Whether this process runs as root (the only user whose caches are read or written). */
export const runsAsRoot = (): boolean => process.getuid?.() === 0;

/** Owned by this process's effective user and not writable by group or others. */
export const ownedAndClosed = (st: Pick<Stats, "uid" | "mode">): boolean =>
  st.uid === process.geteuid?.() && (st.mode & 0o022) === 0;
