import { setTimeout as sleep } from "node:timers/promises";
import { InputError, PeerError } from "../errors.ts";
import { describeHolder, type Holder } from "./holder.ts";
import type { LockStamp } from "./lock-stamp.ts";

// What the local (stateDir) and cluster (pmxcfs) locks share: the calling
// convention, name rules, the wait between attempts and the timeout error.

export interface LockOptions {
  /** How long to wait for a busy lock before giving up with LockTimeoutError. Default 30 s. */
  timeoutMs?: number;
}

/**
 * What the work under a lock may check: `signal` aborts (reason: a
 * LockLostError) when the lock is lost while held, a cluster lock whose
 * renewal failed. Work that writes shared state should stop there.
 */
export interface LockLease {
  readonly signal: AbortSignal;
  /**
   * How the previous holder left the lock (its "released since" stamp,
   * lock-stamp.ts), read right after we took it; undefined when unknown.
   */
  readonly previous?: LockStamp | undefined;
}

/** Runs fn while holding the lock `name`; the lock is released however fn ends. */
export type WithLock = <T>(
  name: string,
  fn: (lease: LockLease) => Promise<T>,
  opts?: LockOptions,
) => Promise<T>;

let steadySignal: AbortSignal | undefined;
/**
 * A lease of a lock that cannot be lost while its holder lives (the node-local
 * locks). Its signal is made on first use: the hookscript takes a local lock
 * without ever looking at it, and need not load the AbortController.
 */
export const STEADY_LEASE: LockLease = {
  get signal() {
    steadySignal ??= new AbortController().signal;
    return steadySignal;
  },
};

/** A steady lease that also says how the previous holder left the lock (lock-stamp.ts). */
export function steadyLease(previous: LockStamp | undefined): LockLease {
  if (previous === undefined) return STEADY_LEASE;
  return {
    get signal() {
      return STEADY_LEASE.signal;
    },
    previous,
  };
}

/** The lock was lost while held: its renewal failed, or someone else holds it now. */
export class LockLostError extends PeerError {
  override name = "LockLostError";
  constructor(
    readonly lock: string,
    readonly why: string,
  ) {
    super(`lost lock ${lock}: ${why}`);
  }
}

export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

/** Someone else held the lock for the whole timeout. */
export class LockTimeoutError extends PeerError {
  override name = "LockTimeoutError";
  constructor(
    readonly lock: string,
    readonly holder: Holder | undefined,
    timeoutMs: number,
  ) {
    super(`lock ${lock} is held by ${describeHolder(holder)}; gave up after ${timeoutMs} ms`);
  }
}

// Names become file and directory names (and appear in pmxcfs's priv/lock,
// shared with Proxmox's own locks), so keep them plain. "." is reserved for
// the suffixes this module adds (.lock, .break, .takeover).
const LOCK_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

export function checkLockName(name: string): void {
  if (!LOCK_NAME.test(name)) {
    throw new InputError(`lock name ${JSON.stringify(name)}: use 1-100 letters, digits, "-" or "_"`);
  }
}

/** The per-VM lock name both the hook's detached worker and the reconcile take. */
export function vmLockName(vmid: number): string {
  if (!Number.isInteger(vmid) || vmid <= 0) throw new InputError(`vmid ${vmid}: not a positive integer`);
  return `vm-${vmid}`;
}

/** The local lock one node's convergence runs under (a hook's worker and the timer never interleave). */
export function nodeLockName(node: string): string {
  return `node-${node}`;
}

/** The cluster lock every DNS write of the orchestrator holds. */
export const DNS_LOCK = "dns";

/**
 * The locks whose takers act on a view of the cluster a run may have read
 * before taking them: they keep a "released since" stamp (lock-stamp.ts), so
 * the run knows whether it must read again. Decided by name, here, so that
 * no taker of these locks can forget to stamp.
 */
export function isStampedLock(scope: "node" | "cluster", name: string): boolean {
  return scope === "node" ? name.startsWith("node-") : name === DNS_LOCK;
}

/**
 * Waits between attempts to take a busy lock: starts at a few ms (a lock
 * guarding one read-modify-write is released that fast) and backs off to
 * `maxMs` with jitter so contenders do not retry in lockstep.
 */
export class Backoff {
  #next: number;
  constructor(
    private readonly minMs = 2,
    private readonly maxMs = 100,
  ) {
    this.#next = minMs;
  }
  /** The next wait in ms (never past `deadline`); each call doubles the one after. */
  next(deadline: number): number {
    const ms = Math.max(0, Math.min(this.#next * (0.5 + Math.random()), deadline - Date.now()));
    this.#next = Math.min(this.maxMs, this.#next * 2);
    return ms;
  }
  async wait(deadline: number): Promise<void> {
    const ms = this.next(deadline);
    await sleep(ms);
  }
  /** wait() for synchronous callers (the hookscript's journal write): blocks this thread. */
  waitSync(deadline: number): void {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, this.next(deadline));
  }
  reset(): void {
    this.#next = this.minMs;
  }
}
