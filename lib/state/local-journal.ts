import { join } from "node:path";
import { Journal } from "./journal.ts";
import { localLocks } from "./local-lock.ts";

// This node's journal alone, as openState (index.ts) lays it out: the
// hookscript's fast path records its work here without loading the rest of the
// state layer (cluster locks, claimed names and their schema library).

export interface LocalJournalOptions {
  warn?: (message: string) => void;
  now?: () => number;
}

/** stateDir/journal, written under the local lock "journal" in stateDir/locks. */
export function openLocalJournal(stateDir: string, opts: LocalJournalOptions = {}): Journal {
  const warn = opts.warn ?? ((m: string) => process.stderr.write(`pvemigrate-dns: ${m}\n`));
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
