import { setTimeout as sleep } from "node:timers/promises";
import type { DnsMaster } from "../config/types.ts";
import { DnsAllMastersFailed, type MasterFailure, masterLabel } from "./errors.ts";

// Master candidates: tried in order, each with its own per-attempt timeout;
// a master that cannot answer moves us on to the next; after a full round
// without a final answer, back off and go again, all within a bounded total
// time. A final answer (success or a refusal) ends everything. The backoff
// loop is written out below (it was p-retry's with these options) so that
// `dns set` loads neither p-retry nor, through its performance.now(),
// node:perf_hooks at every start (issue 16, floor 2).

export type AttemptResult<T> =
  | { kind: "final"; value: T }
  /** `ambiguous`: an UPDATE was sent and no trustworthy answer came back: it may have been applied. */
  | { kind: "next"; reason: string; ambiguous?: boolean };

/**
 * One attempt at one master; must be done by `deadline` (Date.now() ms).
 * `end` is when the whole failover's budget runs out (for work after the
 * attempt proper, such as reading back an ambiguous update).
 */
export type Attempt<T> = (master: DnsMaster, deadline: number, end: number) => Promise<AttemptResult<T>>;

export interface FailoverOptions {
  timeoutMs: number;
  totalTimeoutMs: number;
  /** Names the operation in the error when every master fails. */
  what: string;
  journalHint?: string;
  /** Backoff between rounds: doubles each round (times a random 1-2) up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface FailoverSuccess<T> {
  master: DnsMaster;
  value: T;
  /** Masters tried before this one in the winning round, and why they were passed over. */
  skipped: MasterFailure[];
}

class RoundFailed extends Error {
  constructor(readonly failures: MasterFailure[]) {
    super("every master failed this round");
  }
}

export async function tryMasters<T>(
  masters: readonly DnsMaster[],
  attempt: Attempt<T>,
  opts: FailoverOptions,
): Promise<FailoverSuccess<T>> {
  if (masters.length === 0) throw new DnsAllMastersFailed(opts.what, [], opts.journalHint);
  const start = Date.now();
  const end = start + opts.totalTimeoutMs;
  let lastFailures: MasterFailure[] = [];

  const round = async (): Promise<FailoverSuccess<T>> => {
    const failures: MasterFailure[] = [];
    for (const master of masters) {
      const now = Date.now();
      if (now >= end) {
        failures.push({ master: masterLabel(master), reason: "not tried: total time budget exhausted" });
        continue;
      }
      const result = await attempt(master, Math.min(now + opts.timeoutMs, end), end);
      if (result.kind === "final") return { master, value: result.value, skipped: failures };
      failures.push({
        master: masterLabel(master),
        reason: result.reason,
        ...(result.ambiguous ? { mayHaveApplied: true } : {}),
      });
    }
    // Keep the most informative reason per master: a "not tried" from a cut-short
    // last round should not hide why it failed in an earlier one.
    // An attempt that may have applied the update stays on record whatever came after it.
    lastFailures = failures.map((f, i) => {
      const before = lastFailures[i];
      if (!before) return f;
      if (f.reason.startsWith("not tried")) return before;
      return before.mayHaveApplied && !f.mayHaveApplied ? { ...f, mayHaveApplied: true } : f;
    });
    throw new RoundFailed(lastFailures);
  };

  const minBackoff = opts.minBackoffMs ?? 100;
  // Capped so a backoff cannot overshoot the total budget by much.
  const maxBackoff = opts.maxBackoffMs ?? Math.max(minBackoff, Math.min(2000, opts.totalTimeoutMs / 8));
  for (let retries = 0; ; retries++) {
    try {
      return await round();
    } catch (err) {
      // Only go round again if there is time left for a real attempt after the backoff.
      const remaining = end - Date.now();
      if (!(err instanceof RoundFailed)) throw err;
      if (remaining <= 0 || retries >= MAX_ROUNDS - 1 || Date.now() + minBackoff * 2 >= end)
        throw new DnsAllMastersFailed(opts.what, err.failures, opts.journalHint);
      await sleep(Math.min(backoffMs(retries, minBackoff, maxBackoff), remaining));
    }
  }
}

/** Rounds at most (a bound the time budget reaches long before). */
const MAX_ROUNDS = 1001;

/** Before round `retries + 2`: minBackoff doubled per round, times a random factor in [1, 2), capped. */
export function backoffMs(
  retries: number,
  minBackoff: number,
  maxBackoff: number,
  random = Math.random(),
): number {
  return Math.min(Math.round((1 + random) * minBackoff * 2 ** retries), maxBackoff);
}
