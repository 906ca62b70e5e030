import { readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode, messageOf } from "../errors.ts";
import { syncDir, TEMP_PREFIX, writeFileAtomic } from "./atomic-write.ts";
import { crashPoint } from "./crash-point.ts";
import { newToken } from "./holder.ts";
import {
  checkId,
  checkKind,
  corruptAside,
  decodeItem,
  encodeItem,
  fileNameFor,
  ITEM_SUFFIX,
  type ItemRef,
  type JournalEntry,
  type JournalItem,
  type JournalKind,
  MAX_ERROR_LENGTH,
  replacementItem,
} from "./journal-item.ts";
import type { WithLock } from "./lock-common.ts";
import { makeDirs } from "./make-dirs.ts";
import { listDir } from "./read.ts";
import { warnOnStderr } from "./warn.ts";

// The journal of pending work: one JSON file per item in one directory
// (stateDir/journal on the node, <pveRoot>/pvemigrate-dns/journal in pmxcfs
// for cluster-wide work). Work is recorded BEFORE it runs and removed after it
// succeeded, so whatever a crash, a dead DNS master or a lost quorum
// interrupts is still listed for the next run, which replays it; replays are
// harmless because every step converges to the recorded intent.
//
// Readers need no lock (each file is replaced by an atomic rename). Writers
// take the journal's lock so that "is this still the intent I worked on?"
// and "remove it" happen as one step: without it, a worker finishing an old
// intent could delete a newer one recorded meanwhile by the hook.

/** Temp files older than this belong to a writer that crashed; list() sweeps them. */
const ABANDONED_TEMP_MS = 10 * 60_000;
export const JOURNAL_LOCK_TIMEOUT_MS = 15_000;

export interface JournalOptions {
  dir: string;
  /** Serializes writers: local locks for stateDir, cluster locks for pmxcfs. */
  lock: WithLock;
  lockName?: string;
  /** Mode new files are created with; leave unset on pmxcfs (it has no chmod and its own modes). */
  fileMode?: number;
  now?: () => number;
  /** Told about corrupt files moved aside and payloads this code cannot read. */
  warn?: (message: string) => void;
}

export class Journal {
  readonly dir: string;
  readonly #lock: WithLock;
  readonly #lockName: string;
  readonly #fileMode: number | undefined;
  readonly #now: () => number;
  readonly #warn: (message: string) => void;

  constructor(opts: JournalOptions) {
    this.dir = opts.dir;
    this.#lock = opts.lock;
    this.#lockName = opts.lockName ?? "journal";
    this.#fileMode = opts.fileMode;
    this.#now = opts.now ?? Date.now;
    this.#warn = opts.warn ?? warnOnStderr;
  }

  /**
   * Records an intent before the work runs. An item with the same id is
   * replaced: the newest intent wins, its failure count starts again, its
   * createdAt is kept. Returns the stored item (pass it to markDone/markFailed).
   */
  record<P>(kind: JournalKind<P>, payload: P): Promise<JournalItem<P>>;
  record<P>(entry: JournalEntry<P>): Promise<JournalItem<P>>;
  async record<P>(kindOrEntry: JournalKind<P> | JournalEntry<P>, payload?: P): Promise<JournalItem<P>> {
    const entry: JournalEntry<P> =
      "idOf" in kindOrEntry
        ? { id: kindOrEntry.idOf(payload as P), kind: kindOrEntry.name, payload: payload as P }
        : kindOrEntry;
    checkId(entry.id);
    checkKind(entry.kind);
    return this.#locked(async () => {
      const old = await this.#read(entry.id, true);
      const item = replacementItem(entry, old, newToken(), this.#now());
      await this.#write(item);
      return item;
    });
  }

  /**
   * Records many intents of one kind under one take of the journal's lock
   * (a reconcile converging hundreds of arrived guests in one pass): each is
   * its own item, written before the work runs, as `record` would.
   */
  async recordAll<P>(kind: JournalKind<P>, payloads: readonly P[]): Promise<JournalItem<P>[]> {
    const entries = payloads.map((payload) => ({ id: kind.idOf(payload), kind: kind.name, payload }));
    for (const e of entries) checkId(e.id);
    checkKind(kind.name);
    if (entries.length === 0) return [];
    return this.#locked(async () => {
      const items: JournalItem<P>[] = [];
      for (const entry of entries) {
        const old = await this.#read(entry.id, true);
        const item = replacementItem(entry, old, newToken(), this.#now());
        await this.#write(item);
        items.push(item);
      }
      return items;
    });
  }

  /** markDone for many items under one take of the lock; the ids removed. */
  async markAllDone(refs: readonly ItemRef[]): Promise<string[]> {
    for (const ref of refs) checkId(ref.id);
    if (refs.length === 0) return [];
    return this.#locked(async () => {
      const removed: string[] = [];
      for (const ref of refs) {
        const current = await this.#read(ref.id, true);
        if (current?.rev === ref.rev && (await this.#unlink(ref.id))) removed.push(ref.id);
      }
      return removed;
    });
  }

  /** Pending items, oldest first; of one kind when given (a JournalKind also parses the payloads). */
  list(): Promise<JournalItem[]>;
  list(kind: string): Promise<JournalItem[]>;
  list<P>(kind: JournalKind<P>): Promise<JournalItem<P>[]>;
  async list<P>(kind?: string | JournalKind<P>): Promise<JournalItem[] | JournalItem<P>[]> {
    const kindName = typeof kind === "string" ? kind : kind?.name;
    const items: JournalItem[] = [];
    for (const name of await this.#fileNames()) {
      const item = await this.#load(name, false);
      if (item && (kindName === undefined || item.kind === kindName)) items.push(item);
    }
    items.sort((a, b) =>
      a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1,
    );
    if (kind === undefined || typeof kind === "string") return items;
    return items.flatMap((item) => {
      try {
        return [{ ...item, payload: kind.parse(item.payload) }];
      } catch (err) {
        // Left in place: it may be work for a newer version of this tool on another node.
        this.#warn(`journal ${this.dir}: skipping ${item.id}: payload not understood (${messageOf(err)})`);
        return [];
      }
    });
  }

  async get(id: string): Promise<JournalItem | undefined> {
    checkId(id);
    return this.#read(id, false);
  }

  /**
   * The work for `ref` succeeded: removes the item, unless a newer intent
   * replaced it meanwhile (then that one stays pending and false is returned).
   */
  async markDone(ref: ItemRef): Promise<boolean> {
    checkId(ref.id);
    return this.#locked(async () => {
      const current = await this.#read(ref.id, true);
      if (current?.rev !== ref.rev) return false;
      await this.#unlink(ref.id);
      return true;
    });
  }

  /**
   * The work for `ref` failed: counts the attempt and keeps the error message
   * for `status`. Returns the updated item, or undefined when a newer intent
   * replaced it (or it is gone).
   */
  async markFailed(ref: ItemRef, error: unknown): Promise<JournalItem | undefined> {
    checkId(ref.id);
    return this.#locked(async () => {
      const current = await this.#read(ref.id, true);
      if (current?.rev !== ref.rev) return undefined;
      const updated: JournalItem = {
        ...current,
        attempts: current.attempts + 1,
        lastAttemptAt: new Date(this.#now()).toISOString(),
        lastError: messageOf(error).slice(0, MAX_ERROR_LENGTH),
      };
      await this.#write(updated);
      return updated;
    });
  }

  /** Drops an item whatever its revision (an operator's "forget this"). */
  async remove(id: string): Promise<boolean> {
    checkId(id);
    return this.#locked(() => this.#unlink(id));
  }

  #locked<T>(fn: () => Promise<T>): Promise<T> {
    return this.#lock(this.#lockName, fn, { timeoutMs: JOURNAL_LOCK_TIMEOUT_MS });
  }

  async #write(item: JournalItem): Promise<void> {
    await makeDirs(this.dir, this.#fileMode === undefined ? {} : { mode: 0o700 });
    const opts = this.#fileMode === undefined ? {} : { mode: this.#fileMode };
    await writeFileAtomic(join(this.dir, fileNameFor(item.id)), encodeItem(item), opts);
    crashPoint(`journal ${this.dir}: wrote ${item.id}`);
  }

  async #unlink(id: string): Promise<boolean> {
    try {
      await unlink(join(this.dir, fileNameFor(id)));
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return false;
      throw err;
    }
    await syncDir(this.dir);
    crashPoint(`journal ${this.dir}: removed ${id}`);
    return true;
  }

  /** The item stored for `id`; undefined when there is none (or it is corrupt, which is reported). */
  #read(id: string, insideLock: boolean): Promise<JournalItem | undefined> {
    return this.#load(fileNameFor(id), insideLock);
  }

  async #load(fileName: string, insideLock: boolean): Promise<JournalItem | undefined> {
    const path = join(this.dir, fileName);
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return undefined;
      throw err;
    }
    try {
      return decodeItem(text, fileName);
    } catch (err) {
      await this.#quarantine(fileName, text, messageOf(err), insideLock);
      return undefined;
    }
  }

  /**
   * Moves a corrupt file aside (to *.corrupt, kept for a human) so it neither
   * blocks the journal nor gets replayed. Only if it still holds the bytes we
   * judged: a valid record that replaced it meanwhile must not be moved.
   */
  async #quarantine(fileName: string, judged: string, reason: string, insideLock: boolean): Promise<void> {
    const path = join(this.dir, fileName);
    const aside = corruptAside(path, this.#now());
    const move = async () => {
      const now = await readFile(path, "utf8").catch(() => undefined);
      if (now !== judged) return false;
      await rename(path, aside);
      return true;
    };
    // The journal lock is not re-entrant: take it only when the caller does not hold it already.
    const moved = insideLock ? await move() : await this.#locked(move);
    if (moved) this.#warn(`journal ${this.dir}: moved corrupt ${fileName} aside to ${aside}: ${reason}`);
  }

  async #fileNames(): Promise<string[]> {
    const names = await listDir(this.dir);
    await this.#sweepTemps(names.filter((n) => n.startsWith(TEMP_PREFIX)));
    return names.filter((n) => n.endsWith(ITEM_SUFFIX) && !n.startsWith("."));
  }

  async #sweepTemps(temps: string[]): Promise<void> {
    for (const name of temps) {
      const path = join(this.dir, name);
      const st = await stat(path).catch(() => undefined);
      if (st && this.#now() - st.mtimeMs > ABANDONED_TEMP_MS) await unlink(path).catch(() => {});
    }
  }
}
