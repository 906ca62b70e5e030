import pRetry from "p-retry";
import type { DnsMaster } from "../config/types.ts";
import { DnsAllMastersFailed, type MasterFailure, masterLabel } from "./errors.ts";

// Master candidates: tried in order, each with its own per-attempt timeout;
// a master that cannot answer moves us on to the next; after a full round
// without a final answer, back off (p-retry) and go again, all within a
// bounded total time. A final answer (success or a refusal) ends everything.

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
  /** Backoff between rounds; p-retry grows it exponentially up to maxBackoffMs. */
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
  try {
    return await pRetry(round, {
      retries: 1000,
      factor: 2,
      minTimeout: minBackoff,
      // Capped so a backoff cannot overshoot the total budget by much.
      maxTimeout: opts.maxBackoffMs ?? Math.max(minBackoff, Math.min(2000, opts.totalTimeoutMs / 8)),
      randomize: true,
      maxRetryTime: opts.totalTimeoutMs,
      // Only go round again if there is time left for a real attempt after the backoff.
      shouldRetry: ({ error }) => error instanceof RoundFailed && Date.now() + minBackoff * 2 < end,
    });
  } catch (err) {
    if (err instanceof RoundFailed) throw new DnsAllMastersFailed(opts.what, err.failures, opts.journalHint);
    throw err;
  }
}
