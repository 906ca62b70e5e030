import { PeerError } from "../errors.ts";
import type { NameOutcome } from "./types.ts";

// Errors of the DNS engine. Both are peer problems (exit 2): the input was
// fine but no master would take it. Neither ever includes key material: the
// key is named, its secret never is.

/** Re-exported from its home next to parseMaster, for the DNS modules that name masters in errors. */
export { masterLabel } from "../config/values.ts";

export interface MasterFailure {
  master: string;
  reason: string;
  /** An UPDATE reached it and no read-back settled whether it was applied. */
  mayHaveApplied?: boolean;
}

/**
 * No master gave a final answer within the time budget; one line per master
 * says why. When an UPDATE was sent somewhere without a trustworthy answer
 * and no read-back settled it, the message says so instead of "nothing was
 * changed": the caller keeps its journal item until a later read confirms.
 */
export class DnsAllMastersFailed extends PeerError {
  override name = "DnsAllMastersFailed";
  /** Names of the same setAddresses call settled by earlier messages (journal only the rest). */
  completed: NameOutcome[] = [];
  /** True when the change may have landed: only a read-back can tell. */
  get mayHaveApplied(): boolean {
    return this.failures.some((f) => f.mayHaveApplied);
  }
  constructor(
    readonly what: string,
    readonly failures: MasterFailure[],
    journalHint?: string,
  ) {
    const unsure = failures.filter((f) => f.mayHaveApplied).map((f) => f.master);
    super(
      [
        unsure.length > 0
          ? `${what}: all ${failures.length} DNS master candidate(s) failed; it may have been applied at ${unsure.join(", ")} (sent, no trustworthy answer, not confirmed by a read-back)`
          : `${what}: all ${failures.length} DNS master candidate(s) failed, nothing was changed by this attempt`,
        ...failures.map((f) => `  ${f.master}: ${f.reason}`),
        ...(journalHint ? [journalHint] : []),
      ].join("\n"),
    );
  }
}

/** A master gave a final refusal (REFUSED, NOTAUTH, a TSIG error, ...): not retried elsewhere. */
export class DnsRejected extends PeerError {
  override name = "DnsRejected";
  /** Names of the same setAddresses call settled by earlier messages (journal only the rest). */
  completed: NameOutcome[] = [];
  constructor(
    readonly what: string,
    readonly master: string,
    readonly rcode: string,
    readonly detail: string,
  ) {
    super(`${what}: ${master} answered ${rcode}: ${detail}`);
  }
}
