import { RunSnapshot, type TakenLock } from "../cluster/run-snapshot.ts";
import { DNS_LOCK, type LastApplied, type LockLease, nodeLockName } from "../state/index.ts";
import type { Runtime } from "./runtime.ts";

// What one reconcile run reads once and hands to its steps: the cluster
// (RunSnapshot, re-read only for a step whose lock someone held since the
// read: lib/state/lock-stamp.ts) and the last-applied records (one listing;
// read three times before, two files per guest each time). The stamps read
// before each cluster read are those of the very locks the steps take
// (nodeLockName, DNS_LOCK: lib/state/lock-common.ts).

/** A step's lock as RunSnapshot judges it: taken at `at`, found as `lease.previous` left it. */
export function takenLock(scope: "node" | "cluster", name: string, at: number, lease: LockLease): TakenLock {
  return { key: `${scope}:${name}`, at, previous: lease.previous };
}

/** The run's snapshot, with the stamps of this node's convergence lock and the "dns" lock read before each read. */
export function runSnapshot(rt: Runtime): RunSnapshot {
  const locks = [
    ["node", nodeLockName(rt.self)],
    ["cluster", DNS_LOCK],
  ] as const;
  return new RunSnapshot(rt.proxmox, {
    now: rt.now,
    marks: async () =>
      new Map(
        await Promise.all(
          locks.map(
            async ([scope, name]) => [`${scope}:${name}`, await rt.state.lockStamp(scope, name)] as const,
          ),
        ),
      ),
  });
}

/**
 * The run's one listing of last-applied records. Nothing locks these records
 * against a run (a switch on another node writes them under its own locks),
 * so a listing is a moment's view either way; `forget` after this run wrote
 * some (it switched guests here), so the next step lists again.
 */
export class RunRecords {
  readonly #rt: Runtime;
  #listing: Promise<LastApplied[]> | undefined;
  /** Listings this run made. */
  reads = 0;

  constructor(rt: Runtime) {
    this.#rt = rt;
  }

  lastApplied(): Promise<LastApplied[]> {
    if (!this.#listing) {
      this.reads++;
      const listing = this.#rt.state.lastApplied.list();
      // A failed listing is not kept: the next step asks again.
      listing.catch(() => {
        if (this.#listing === listing) this.#listing = undefined;
      });
      this.#listing = listing;
    }
    return this.#listing;
  }

  forget(): void {
    this.#listing = undefined;
  }
}
