import { type LockStamp, unheldSince } from "../state/lock-stamp.ts";
import type { ProxmoxClient } from "./client.ts";
import { getSnapshot, getVmDescriptions } from "./snapshot.ts";
import type { ClusterSnapshot } from "./types.ts";

// One look at the cluster per run. A reconcile used to read the whole cluster
// (GET /cluster/status + /cluster/resources, and the Notes of tagged guests)
// once for itself, again to converge its node and again for DNS, and three
// more times per guest it switched: the same answer, a few hundred ms apart.
// A run creates one RunSnapshot and passes it down; every step asks it
// instead of the API.
//
// What must stay true is why those steps re-read in the first place: a step
// that waited for a lock (the node's, or the cluster's "dns") must not act on
// a view older than the lock, or a late writer could undo what the lock's
// previous holder just did. So a step names the lock it took (`lock`): the
// snapshot serves it when its read began after the lock was taken, or when
// nobody held that lock between just before the read (the "released since"
// stamps `marks` reads then) and the step taking it (the stamp its lease
// found): every earlier holder then acted on a view older than this one
// (lib/state/lock-stamp.ts). Otherwise it is read again. Steps without a lock
// share the one there is. The snapshot is frozen: every step sees the same
// data, and one that tried to change it would throw.

/** A lock a step took before asking for the snapshot. */
export interface TakenLock {
  /** Which lock: its key in what `marks` returns. */
  key: string;
  /** When it was taken (the `now` clock). */
  at: number;
  /** How its previous holder left it, read on taking it (LockLease.previous); undefined: unknown. */
  previous: LockStamp | undefined;
}

export interface RunSnapshotOptions {
  /** The clock the lock times come from (ms); default Date.now. */
  now?: () => number;
  /** The stamps of the locks the run's steps take, by key; read just before each cluster read. */
  marks?: () => Promise<ReadonlyMap<string, LockStamp | undefined>>;
}

interface Entry {
  /** When the read began (its marks first): everything written before it is in it. */
  startedAt: number;
  /** The locks' stamps as they were just before the read (empty when unknown). */
  marks: Promise<ReadonlyMap<string, LockStamp | undefined>>;
  snapshot: Promise<ClusterSnapshot>;
  /** Notes (description) by vmid, read once per snapshot for the guests asked about. */
  notes: Map<number, string>;
}

/** Deep-freezes the snapshot's records (nodes, guests, tags): shared by every step of the run. */
function freeze(snapshot: ClusterSnapshot): ClusterSnapshot {
  for (const node of snapshot.nodes) Object.freeze(node);
  for (const vm of snapshot.vms) {
    Object.freeze(vm.tags);
    Object.freeze(vm);
  }
  Object.freeze(snapshot.nodes);
  Object.freeze(snapshot.vms);
  return Object.freeze(snapshot);
}

export class RunSnapshot {
  readonly #client: ProxmoxClient;
  readonly #now: () => number;
  readonly #marks: (() => Promise<ReadonlyMap<string, LockStamp | undefined>>) | undefined;
  #entry: Entry | undefined;
  /** Reads of the whole cluster this run made (each is two API requests). */
  reads = 0;
  /** Answers given from the run's snapshot without asking the API. */
  hits = 0;

  constructor(client: ProxmoxClient, opts: RunSnapshotOptions = {}) {
    this.#client = client;
    this.#now = opts.now ?? Date.now;
    this.#marks = opts.marks;
  }

  /** Whether `entry` may serve a step holding `lock` (see the top of this file). */
  async #serves(entry: Entry, lock: TakenLock | undefined): Promise<boolean> {
    // Strictly later: a read in the same millisecond as the take may have begun before it.
    if (lock === undefined || entry.startedAt > lock.at) return true;
    return unheldSince((await entry.marks).get(lock.key), lock.previous);
  }

  async #current(lock: TakenLock | undefined): Promise<Entry> {
    for (let entry = this.#entry; entry; ) {
      const serves = await this.#serves(entry, lock);
      if (serves) {
        this.hits++;
        return entry;
      }
      // Replaced while we judged it: judge the newer one.
      if (this.#entry === entry) break;
      entry = this.#entry;
    }
    this.reads++;
    const startedAt = this.#now();
    // Unknown stamps (unreadable) only cost a read later: a step then reads again.
    const marks = this.#marks ? this.#marks().catch(() => new Map()) : Promise.resolve(new Map());
    const fresh: Entry = {
      startedAt,
      marks,
      // The stamps first: a holder that takes a lock after they were read bumps it, and its step reads again.
      snapshot: marks.then(() => getSnapshot(this.#client)).then(freeze),
      notes: new Map(),
    };
    // A failed read is not kept: the next step asks the API again.
    fresh.snapshot.catch(() => {
      if (this.#entry === fresh) this.#entry = undefined;
    });
    this.#entry = fresh;
    return fresh;
  }

  /**
   * The run's snapshot. `lock`: the lock the step took; a snapshot that may
   * be older than what an earlier holder of it acted on is replaced by a new
   * read (concurrent callers share one read in flight).
   */
  async get(opts: { lock?: TakenLock } = {}): Promise<ClusterSnapshot> {
    return (await this.#current(opts.lock)).snapshot;
  }

  /**
   * The Notes of `vmids` as of the snapshot `get` gives with the same
   * `lock`: each guest's read at most once per snapshot (see
   * getVmDescriptions for which guests are skipped).
   */
  async descriptions(
    vmids: readonly number[],
    opts: { lock?: TakenLock } = {},
  ): Promise<Map<number, string>> {
    const entry = await this.#current(opts.lock);
    const snapshot = await entry.snapshot;
    const missing = vmids.filter((vmid) => !entry.notes.has(vmid));
    if (missing.length > 0) {
      const read = await getVmDescriptions(this.#client, snapshot, missing);
      for (const [vmid, text] of read) entry.notes.set(vmid, text);
    }
    const out = new Map<number, string>();
    for (const vmid of vmids) {
      const text = entry.notes.get(vmid);
      if (text !== undefined) out.set(vmid, text);
    }
    return out;
  }

  /** Forget the snapshot (this run just changed placements, e.g. started a migration): the next step reads again. */
  invalidate(): void {
    this.#entry = undefined;
  }
}
