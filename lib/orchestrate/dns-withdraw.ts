import { DnsAllMastersFailed } from "../dns/errors.ts";
import type { PlannedWithdrawal } from "../dns/withdraw.ts";
import { messageOf } from "../errors.ts";
import { type ClaimRegistry, keepPending, recordReleased } from "../state/index.ts";
import { claimsKnown, claimsOf, type Withdrawal, withdrawalsDue } from "./name-claims.ts";
import { NOTES_TAG, type World } from "./observe.ts";
import { withdrawWork } from "./pending.ts";
import type { Runtime } from "./runtime.ts";

// Withdrawal of names whose claim went away (the Notes were cleared, the file
// dropped the name): the registry of names we wrote says which VM each was
// written for; name-claims.ts says which of them are due. Each is deleted as
// the plan read it (dns-plan.ts), by compare-and-swap, only while our TXT
// still names that VM (withdraw.ts); changed since, it is retried next run. Runs
// inside the "dns" cluster lock, from reconcile and from the journal replay.
// A withdrawal the masters could not take is journaled; the registry keeps
// the name, so the next run (or the replay) tries again.

export interface WithdrawReport {
  withdrawn: string[];
  lines: string[];
  problems: string[];
  /** Names whose withdrawal failed and was journaled. */
  failed: string[];
}

/** Withdrawals due now; `only` limits them to these names (a journal replay). */
export function dueNow(world: World, registry: ClaimRegistry, only?: readonly string[]): Withdrawal[] {
  const known = claimsKnown(world.snapshot, world.notesRead, NOTES_TAG);
  const due = withdrawalsDue(registry, claimsOf(world.config), known);
  return only ? due.filter((w) => only.includes(w.name)) : due;
}

/**
 * Withdraws `due` names; updates `registry` in place (the caller writes it).
 * `journal`: record failures in the journal (false when replaying a journal item: it stays anyway);
 * `mastersDown`: every master just failed this run, so only journal them.
 */
export async function withdrawNames(
  rt: Runtime,
  due: readonly PlannedWithdrawal[],
  registry: ClaimRegistry,
  opts: { journal: boolean; mastersDown?: DnsAllMastersFailed },
): Promise<WithdrawReport> {
  const report: WithdrawReport = { withdrawn: [], lines: [], problems: [], failed: [] };
  let mastersDown: unknown = opts.mastersDown;
  for (const w of due) {
    if (w.status === "unread") {
      await failed(rt, w, new Error(w.reason), report, opts.journal);
      continue;
    }
    if (mastersDown !== undefined) {
      // Every master just failed: do not wait out the timeouts again per name.
      await failed(rt, w, mastersDown, report, opts.journal);
      continue;
    }
    try {
      const r = await rt.dns.applyWithdrawal(w);
      if (r.status === "withdrawn" || r.status === "absent") {
        recordReleased(registry, w.name, rt.now());
        if (r.status === "withdrawn") {
          report.withdrawn.push(w.name);
          report.lines.push(`${w.name}: withdrawn (VM ${w.vmid} no longer claims it; at ${r.master})`);
        }
      } else if (r.status === "kept") {
        // Someone else's now: it is no longer ours to withdraw, nor to remember.
        registry.delete(w.name);
        report.problems.push(`${w.name}: not withdrawn: ${r.reason}`);
      } else {
        await failed(rt, w, new Error("changed by someone else meanwhile"), report, opts.journal);
      }
    } catch (err) {
      if (err instanceof DnsAllMastersFailed) mastersDown = err;
      await failed(rt, w, err, report, opts.journal);
    }
  }
  return report;
}

async function failed(rt: Runtime, w: Withdrawal, err: unknown, report: WithdrawReport, journaled: boolean) {
  report.failed.push(w.name);
  const why = messageOf(err).split("\n")[0];
  report.problems.push(`${w.name}: withdrawal failed (${why}); kept for the next run`);
  if (!journaled) return;
  // Recorded only now that it failed: a withdrawal that goes through needs no journal item.
  await keepPending(await rt.state.recordPending(withdrawWork, { name: w.name, vmid: w.vmid }), err);
}
