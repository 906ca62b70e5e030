import { readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { errnoCode, messageOf } from "../errors.ts";
import { writeFileAtomicSync } from "./atomic-write.ts";
import { crashPoint } from "./crash-point.ts";
import { newToken } from "./holder.ts";
import { JOURNAL_LOCK_TIMEOUT_MS, Journal } from "./journal.ts";
import {
  corruptAside,
  decodeItem,
  encodeItem,
  fileNameFor,
  type JournalItem,
  type JournalKind,
  replacementItem,
} from "./journal-item.ts";
import { localLocks, withLocalLockSync } from "./local-lock.ts";
import { makeDirsSync } from "./make-dirs.ts";
import { warnOnStderr } from "./warn.ts";

// This node's journal alone, as openState (index.ts) lays it out: the
// hookscript's fast path records its work here without loading the rest of the
// state layer (cluster locks, claimed names and their schema library).

export interface LocalJournalOptions {
  warn?: (message: string) => void;
  now?: () => number;
}

/** stateDir/journal, written under the local lock "journal" in stateDir/locks. */
export function openLocalJournal(stateDir: string, opts: LocalJournalOptions = {}): Journal {
  const warn = opts.warn ?? warnOnStderr;
  return new Journal({
    dir: join(stateDir, "journal"),
    lock: localLocks(join(stateDir, "locks"), { warn }),
    fileMode: 0o600,
    warn,
    ...(opts.now ? { now: opts.now } : {}),
  });
}

/** The directory of this node's local locks (openState's withLock). */
export const localLockDir = (stateDir: string): string => join(stateDir, "locks");

/**
 * Journal.record for the hookscript, synchronously: the same file, lock,
 * format and durability (written, fsynced and renamed before it returns), with
 * no thread pool and no fs/promises while a VM start waits. `payloadFor` gets
 * the item this one replaces (its payload parsed; undefined when there is none
 * or it cannot be read) and returns the payload to record, both under the lock.
 */
export function recordLocalSync<P>(
  stateDir: string,
  kind: JournalKind<P>,
  id: string,
  payloadFor: (old: JournalItem<P> | undefined) => P,
  opts: LocalJournalOptions = {},
): JournalItem<P> {
  const warn = opts.warn ?? warnOnStderr;
  const now = opts.now ?? Date.now;
  const dir = join(stateDir, "journal");
  const fileName = fileNameFor(id);
  const path = join(dir, fileName);
  return withLocalLockSync(
    localLockDir(stateDir),
    "journal",
    () => {
      const old = readItemSync(path, fileName, kind, { warn, now });
      const item = replacementItem({ id, kind: kind.name, payload: payloadFor(old) }, old, newToken(), now());
      makeDirsSync(dir, { mode: 0o700 });
      writeFileAtomicSync(path, encodeItem(item), { mode: 0o600 });
      crashPoint(`journal ${dir}: wrote ${id}`);
      return item;
    },
    { timeoutMs: JOURNAL_LOCK_TIMEOUT_MS, warn },
  );
}

/** The stored item at `path` (under the journal's lock), as Journal's #load reads it. */
function readItemSync<P>(
  path: string,
  fileName: string,
  kind: JournalKind<P>,
  opts: Required<LocalJournalOptions>,
): JournalItem<P> | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw err;
  }
  let item: JournalItem;
  try {
    item = decodeItem(text, fileName);
  } catch (err) {
    const aside = corruptAside(path, opts.now());
    renameSync(path, aside);
    opts.warn(`journal: moved corrupt ${path} aside to ${aside}: ${messageOf(err)}`);
    return undefined;
  }
  try {
    return { ...item, payload: kind.parse(item.payload) };
  } catch {
    // Replaced all the same: the id is this kind's, the newest intent wins.
    return undefined;
  }
}
