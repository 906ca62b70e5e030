import { join } from "node:path";
import type { Config } from "../config/types.ts";
import { messageOf } from "../errors.ts";
import { ClaimedNamesStore } from "./claimed-names.ts";
import { breakDeadClusterLocks, clusterLockStamp, clusterLocks } from "./cluster-lock.ts";
import { Journal } from "./journal.ts";
import type { JournalItem, JournalKind } from "./journal-item.ts";
import { type DrainResult, drain, drainAll, type Located } from "./journal-run.ts";
import { LastAppliedStore } from "./last-applied.ts";
import { localLockDir, openLocalJournal } from "./local-journal.ts";
import { localLockStamp, localLocks } from "./local-lock.ts";
import { type LockOptions, vmLockName, type WithLock } from "./lock-common.ts";
import type { LockStamp } from "./lock-stamp.ts";
import { warnOnStderr } from "./warn.ts";

// The orchestrator's one entry point to durable state: the two journals, the
// last-applied records and the locks, laid out under stateDir and pveRoot.
//
//   stateDir/journal/*.json                     pending work of this node
//   stateDir/last-applied/<vmid>.json
//   stateDir/locks/<name>.lock                  per-VM and other local locks
//   <pveRoot>/pvemigrate-dns/journal/*.json     cluster-wide pending work
//   <pveRoot>/pvemigrate-dns/last-applied/<vmid>.json
//   <pveRoot>/pvemigrate-dns/claimed-names.json  guest names we wrote (withdrawal)
//   <pveRoot>/priv/lock/pvemigrate-dns-<name>/  cluster locks (pmxcfs semantics)
//   <pveRoot>/priv/lock/pvemigrate-dns-<name>.holder  who holds it (node, pid, start, boot id)

export type { ClaimRegistry } from "./claimed-names.ts";
export { ClaimedNamesStore, recordHeld, recordReleased } from "./claimed-names.ts";
export type { ClusterLockOptions } from "./cluster-lock.ts";
export { clusterLocks } from "./cluster-lock.ts";
export { Journal } from "./journal.ts";
export type { ItemRef, JournalEntry, JournalItem, JournalKind } from "./journal-item.ts";
export { defineKind } from "./journal-item.ts";
export type { DrainResult, Located } from "./journal-run.ts";
export { drain, drainAll, journaled, keepPending, runRecorded } from "./journal-run.ts";
export type { LastApplied, LastAppliedInput, SetResult } from "./last-applied.ts";
export { LastAppliedStore } from "./last-applied.ts";
export { localLocks } from "./local-lock.ts";
export type { LockLease, LockOptions, WithLock } from "./lock-common.ts";
export { DNS_LOCK, LockTimeoutError, nodeLockName, vmLockName } from "./lock-common.ts";
export type { LockStamp } from "./lock-stamp.ts";
export { unheldSince } from "./lock-stamp.ts";

export interface StateOptions {
  now?: () => number;
  warn?: (message: string) => void;
  /** Whether pveRoot is a real pmxcfs; detected when unset. */
  pmxcfs?: boolean;
  /** Emulated cluster-lock expiry on a plain directory (tests). */
  clusterLockStaleMs?: number;
}

export interface State {
  /** This node's journal (always writable). */
  local: Journal;
  /** The cluster-wide journal in pmxcfs (read-only without quorum). */
  cluster: Journal;
  lastApplied: LastAppliedStore;
  /** Guest names we wrote, cluster-wide; read and written under the "dns" cluster lock only. */
  claimedNames: ClaimedNamesStore;
  /** A lock between processes on this node. */
  withLock: WithLock;
  /** The per-VM lock: the hook's detached worker and the reconcile both take it around a VM's switch. */
  withVmLock<T>(vmid: number, fn: () => Promise<T>, opts?: LockOptions): Promise<T>;
  /** A lock across the cluster (mkdir in pmxcfs priv/lock; expires after 120 s unless renewed, which it is). */
  withClusterLock: WithLock;
  /** A lock's "released since" stamp now (lock-stamp.ts): `withLock`'s (node) or `withClusterLock`'s (cluster). */
  lockStamp(scope: "node" | "cluster", name: string): Promise<LockStamp | undefined>;
  /** Frees our cluster locks held by dead processes of this host (see breakDeadClusterLocks); their names. */
  breakDeadClusterLocks(): Promise<string[]>;
  /**
   * Records cluster-wide work in pmxcfs so any node (or this one, later) can
   * finish it; when pmxcfs refuses (no quorum) it goes to the local journal
   * instead, so nothing is lost either way.
   */
  recordPending<P>(kind: JournalKind<P>, payload: P): Promise<Located<P>>;
  /** recordPending for many intents of one kind, under one take of the journal's lock. */
  recordPendingAll<P>(
    kind: JournalKind<P>,
    payloads: readonly P[],
  ): Promise<{ items: JournalItem<P>[]; journal: Journal }>;
  /** Replays all pending items of `kind` from both journals in one pass (see drainAll()). */
  drainPendingAll<P>(
    kind: JournalKind<P>,
    handler: (items: JournalItem<P>[]) => Promise<Map<string, unknown>>,
  ): Promise<DrainResult>;
  /** Replays pending items of `kind` from both journals (see drain()). */
  drainPending<P>(
    kind: JournalKind<P>,
    handler: (item: JournalItem<P>) => Promise<void>,
  ): Promise<DrainResult>;
}

export function openState(config: Pick<Config, "stateDir" | "pveRoot">, opts: StateOptions = {}): State {
  const warn = opts.warn ?? warnOnStderr;
  const common = { warn, ...(opts.now ? { now: opts.now } : {}) };
  const withLock = localLocks(localLockDir(config.stateDir), { warn });
  const withClusterLock = clusterLocks(config.pveRoot, {
    warn,
    ...(opts.pmxcfs === undefined ? {} : { pmxcfs: opts.pmxcfs }),
    ...(opts.clusterLockStaleMs === undefined ? {} : { staleMs: opts.clusterLockStaleMs }),
  });
  const clusterRoot = join(config.pveRoot, "pvemigrate-dns");
  // The same journal the hookscript's fast path opens on its own (local-journal.ts).
  const local = openLocalJournal(config.stateDir, common);
  const cluster = new Journal({ dir: join(clusterRoot, "journal"), lock: withClusterLock, ...common });
  const lastApplied = new LastAppliedStore({
    localDir: join(config.stateDir, "last-applied"),
    clusterDir: join(clusterRoot, "last-applied"),
    fileMode: 0o600,
    ...common,
  });
  return {
    local,
    cluster,
    lastApplied,
    claimedNames: new ClaimedNamesStore(join(clusterRoot, "claimed-names.json"), warn),
    withLock,
    withClusterLock,
    breakDeadClusterLocks: () =>
      breakDeadClusterLocks(config.pveRoot, {
        warn,
        ...(opts.clusterLockStaleMs === undefined ? {} : { staleMs: opts.clusterLockStaleMs }),
      }),
    lockStamp: (scope, name) =>
      scope === "node"
        ? localLockStamp(localLockDir(config.stateDir), name)
        : clusterLockStamp(config.pveRoot, name),
    withVmLock: (vmid, fn, lockOpts) => withLock(vmLockName(vmid), fn, lockOpts),
    async recordPending(kind, payload) {
      try {
        return { item: await cluster.record(kind, payload), journal: cluster };
      } catch (err) {
        warn(
          `cluster journal not writable (${messageOf(err)}); recording ${kind.idOf(payload)} on this node`,
        );
        return { item: await local.record(kind, payload), journal: local };
      }
    },
    async recordPendingAll(kind, payloads) {
      try {
        return { items: await cluster.recordAll(kind, payloads), journal: cluster };
      } catch (err) {
        warn(
          `cluster journal not writable (${messageOf(err)}); recording ${payloads.length} ${kind.name} items on this node`,
        );
        return { items: await local.recordAll(kind, payloads), journal: local };
      }
    },
    drainPending: (kind, handler) => drain([cluster, local], kind, handler),
    drainPendingAll: (kind, handler) => drainAll([cluster, local], kind, handler),
  };
}
