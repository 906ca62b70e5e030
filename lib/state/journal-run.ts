import { messageOf } from "../errors.ts";
import type { Journal } from "./journal.ts";
import type { JournalItem, JournalKind } from "./journal-item.ts";

// The ways the orchestrator uses a journal, in one place: run one step
// journaled (recorded before, removed after; a failure counted and kept),
// keep a step pending without running it, and drain what earlier runs left.

/**
 * Runs `step` for an item already recorded in `at.journal`: removes the item
 * once the step succeeded (unless a newer intent replaced it meanwhile);
 * when the step, or that removal, fails, counts the attempt with its error
 * and rethrows: the item stays pending for the next run.
 */
export async function runRecorded<P, T>(
  at: Located<P>,
  step: (item: JournalItem<P>) => Promise<T>,
): Promise<T> {
  try {
    const result = await step(at.item);
    await at.journal.markDone(at.item);
    return result;
  } catch (err) {
    await keepPending(at, err);
    throw err;
  }
}

/** Records the step's intent in `journal`, then runs it as runRecorded does. */
export async function journaled<P, T>(
  journal: Journal,
  kind: JournalKind<P>,
  payload: P,
  step: (item: JournalItem<P>) => Promise<T>,
): Promise<T> {
  return runRecorded({ journal, item: await journal.record(kind, payload) }, step);
}

/**
 * Leaves a recorded item pending with `why` as its last error: a step that
 * failed, or one that must wait for another and was not run. Counting the
 * attempt is best effort: the step's own error is the news, and failing to
 * count it must not hide that.
 */
export async function keepPending<P>(at: Located<P>, why: unknown): Promise<void> {
  await at.journal.markFailed(at.item, why).catch(() => {});
}

export interface DrainResult {
  /** Ids finished and removed. */
  done: string[];
  /** Ids whose replay failed again; still pending. */
  failed: { id: string; attempts: number; error: string }[];
  /** Ids replaced by a newer intent while being replayed; the newer one is still pending. */
  superseded: string[];
}

export function emptyDrainResult(): DrainResult {
  return { done: [], failed: [], superseded: [] };
}

/** Where a pending item lives, so it can be marked in the right journal. */
export interface Located<P> {
  journal: Journal;
  item: JournalItem<P>;
}

/**
 * Replays pending items one at a time, oldest first. When the same id is
 * pending in several journals (recorded locally while pmxcfs was read-only,
 * then again cluster-wide), only the newest intent runs, and success clears
 * every copy. A failing item never stops the others.
 */
export async function drain<P>(
  journals: Journal | Journal[],
  kind: JournalKind<P>,
  handler: (item: JournalItem<P>) => Promise<void>,
): Promise<DrainResult> {
  const result = emptyDrainResult();
  for (const copies of await pendingById(Array.isArray(journals) ? journals : [journals], kind)) {
    const newest = copies[0]!;
    try {
      await handler(newest.item);
    } catch (err) {
      const failed = await newest.journal.markFailed(newest.item, err);
      if (failed)
        result.failed.push({ id: newest.item.id, attempts: failed.attempts, error: messageOf(err) });
      else result.superseded.push(newest.item.id);
      continue;
    }
    if (await newest.journal.markDone(newest.item)) result.done.push(newest.item.id);
    else result.superseded.push(newest.item.id);
    for (const older of copies.slice(1)) await older.journal.markDone(older.item);
  }
  return result;
}

/** Pending items of `kind` across journals, grouped by id (newest intent first), groups oldest first. */
export async function pendingById<P>(journals: Journal[], kind: JournalKind<P>): Promise<Located<P>[][]> {
  const byId = new Map<string, Located<P>[]>();
  for (const journal of journals) {
    for (const item of await journal.list(kind)) {
      const copies = byId.get(item.id) ?? [];
      copies.push({ journal, item });
      byId.set(item.id, copies);
    }
  }
  const groups = [...byId.values()];
  for (const copies of groups) copies.sort((a, b) => (a.item.updatedAt > b.item.updatedAt ? -1 : 1));
  const firstSeen = (copies: Located<P>[]) =>
    copies.reduce((m, c) => (c.item.createdAt < m ? c.item.createdAt : m), "~");
  return groups.sort((a, b) => (firstSeen(a) < firstSeen(b) ? -1 : 1));
}

/**
 * Replays every pending item of `kind` in one pass (a reconcile finishing
 * the names of hundreds of guests with one DNS plan, not one per guest).
 * `handler` gets the newest intent of each id and returns the ids that
 * failed, with why; throwing fails them all. Each item is still marked on
 * its own: done ones removed (every copy), failed ones counted and kept.
 */
export async function drainAll<P>(
  journals: Journal[],
  kind: JournalKind<P>,
  handler: (items: JournalItem<P>[]) => Promise<Map<string, unknown>>,
): Promise<DrainResult> {
  const result = emptyDrainResult();
  const groups = await pendingById(journals, kind);
  if (groups.length === 0) return result;
  let failures: Map<string, unknown>;
  try {
    failures = await handler(groups.map((copies) => copies[0]!.item));
  } catch (err) {
    failures = new Map(groups.map((copies) => [copies[0]!.item.id, err]));
  }
  const done: Located<P>[] = [];
  for (const copies of groups) {
    const newest = copies[0]!;
    const err = failures.get(newest.item.id);
    if (err === undefined) {
      done.push(...copies);
      continue;
    }
    const failed = await newest.journal.markFailed(newest.item, err);
    if (failed) result.failed.push({ id: newest.item.id, attempts: failed.attempts, error: messageOf(err) });
    else result.superseded.push(newest.item.id);
  }
  const newestIds = new Set(groups.map((copies) => `${copies[0]!.item.id}\n${copies[0]!.item.rev}`));
  for (const journal of journals) {
    const mine = done.filter((l) => l.journal === journal);
    const removed = new Set(await journal.markAllDone(mine.map((l) => l.item)));
    for (const l of mine.filter((l) => newestIds.has(`${l.item.id}\n${l.item.rev}`))) {
      if (removed.has(l.item.id)) result.done.push(l.item.id);
      else result.superseded.push(l.item.id);
    }
  }
  return result;
}
