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
// previous holder just did. So a step says when it got its lock
// (`startedAfter`), and a snapshot whose read began before that is read
// again; steps without a lock share the one there is. The snapshot is frozen:
// every step sees the same data, and one that tried to change it would throw.

export interface RunSnapshotOptions {
  /** The clock the `startedAfter` times come from (ms); default Date.now. */
  now?: () => number;
}

interface Entry {
  /** When the read began: everything written before it is in it. */
  startedAt: number;
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
  #entry: Entry | undefined;
  /** Reads of the whole cluster this run made (each is two API requests). */
  reads = 0;
  /** Answers given from the run's snapshot without asking the API. */
  hits = 0;

  constructor(client: ProxmoxClient, opts: RunSnapshotOptions = {}) {
    this.#client = client;
    this.#now = opts.now ?? Date.now;
  }

  #current(startedAfter: number | undefined): Entry {
    const entry = this.#entry;
    if (entry && (startedAfter === undefined || entry.startedAt >= startedAfter)) {
      this.hits++;
      return entry;
    }
    this.reads++;
    const startedAt = this.#now();
    const fresh: Entry = {
      startedAt,
      snapshot: getSnapshot(this.#client).then(freeze),
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
   * The run's snapshot. `startedAfter`: the time a lock was taken; a snapshot
   * whose read began earlier is replaced by a new read (concurrent callers
   * share one read in flight).
   */
  get(opts: { startedAfter?: number } = {}): Promise<ClusterSnapshot> {
    return this.#current(opts.startedAfter).snapshot;
  }

  /**
   * The Notes of `vmids` as of the snapshot `get` gives with the same
   * `startedAfter`: each guest's read at most once per snapshot (see
   * getVmDescriptions for which guests are skipped).
   */
  async descriptions(
    vmids: readonly number[],
    opts: { startedAfter?: number } = {},
  ): Promise<Map<number, string>> {
    const entry = this.#current(opts.startedAfter);
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
