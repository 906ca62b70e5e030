import { deleteSectionsFor, normalizeName, withdrawSectionsFor } from "./changes.ts";
import { DnsRejected, masterLabel } from "./errors.ts";
import { type NameOwner, nameOwner } from "./ownership.ts";
import { deleteCheck, withdrawCheck } from "./readback.ts";
import type { DeleteResult, NameIo, NameRecords, WithdrawResult } from "./types.ts";
import { RCODE, rcodeName } from "./wire/constants.ts";

// Taking names out of the zone, always compare-and-swap on what was read:
// `deleteName` (the CLI's `dns delete`: any name of ours, every record at it)
// and a withdrawal (a guest's name nobody claims any more: only while our
// TXT still names that guest, and only its A/AAAA and our TXT), planned from
// one read (planWithdrawal, pure) and sent as planned (applyWithdrawal).

/** Rcodes that mean "a prerequisite did not hold": nothing changed, read back and decide. */
export const PREREQ_FAILURES = new Set<number>([
  RCODE.NXRRSET,
  RCODE.YXRRSET,
  RCODE.YXDOMAIN,
  RCODE.NXDOMAIN,
]);

function holding(s: NameRecords) {
  return { a: s.a, aaaa: s.aaaa, txt: s.txt };
}

function hasRecords(s: NameRecords): boolean {
  return s.a.length + s.aaaa.length + s.txt.length > 0;
}

function checkPrereqAnswer(what: string, master: string, rcode: number): void {
  if (!PREREQ_FAILURES.has(rcode))
    throw new DnsRejected(what, master, rcodeName(rcode), "unexpected answer to an update");
}

export async function deleteName(io: NameIo, rawName: string): Promise<DeleteResult> {
  const name = normalizeName(rawName, io.zone, "name");
  const state = await io.read(name);
  if (!state.owned) {
    if (!hasRecords(state)) return { name, status: "absent", master: state.master };
    return { name, status: "not-owned", master: state.master, actual: holding(state) };
  }
  const what = `delete ${name}`;
  const sent = await io.update(what, deleteSectionsFor(name, state.txt), deleteCheck(name, state.txt));
  const master = masterLabel(sent.master);
  if (sent.rcode === RCODE.NOERROR) return { name, status: "deleted", master };
  checkPrereqAnswer(what, master, sent.rcode);
  const after = await io.read(name, sent.master);
  if (after.owned)
    throw new DnsRejected(what, master, rcodeName(sent.rcode), "ownership TXT changed meanwhile");
  if (!hasRecords(after)) return { name, status: "absent", master };
  return { name, status: "not-owned", master, actual: holding(after) };
}

function notTheGuests(owner: Exclude<NameOwner, { kind: "free" }>, vmid: number): string | undefined {
  switch (owner.kind) {
    case "vm":
      return owner.vmid === vmid ? undefined : `now labelled for VM ${owner.vmid}`;
    case "unlabelled":
      return "our TXT there names no VM";
    case "contested":
      return `labelled for several VMs (${owner.vmids.join(", ")})`;
    case "foreign":
      return "holds no ownership TXT of ours";
  }
}

/**
 * PURE: the withdrawal of `vmid`'s name planned from what was read: nothing of
 * ours there, not the guest's to delete (another VM's label, no label, not
 * ours), or the compare-and-swap to send, against exactly what was read.
 */
export type PlannedWithdrawal =
  | { name: string; vmid: number; status: "absent"; master: string }
  | {
      name: string;
      vmid: number;
      status: "kept";
      master: string;
      reason: string;
      actual: ReturnType<typeof holding>;
    }
  | { name: string; vmid: number; status: "send"; master: string; seen: NameRecords; ours: string[] }
  /** The plan could not read the name (the masters down): nothing to send; journaled for the next run. */
  | { name: string; vmid: number; status: "unread"; reason: string };

export function planWithdrawal(
  name: string,
  vmid: number,
  read: NameRecords,
  ownerId: string,
): PlannedWithdrawal {
  const owner = nameOwner(read, ownerId);
  if (owner.kind === "free") return { name, vmid, status: "absent", master: read.master };
  const reason = notTheGuests(owner, vmid);
  if (reason !== undefined || owner.kind !== "vm")
    return { name, vmid, status: "kept", master: read.master, reason: reason ?? "", actual: holding(read) };
  return { name, vmid, status: "send", master: read.master, seen: read, ours: owner.ours };
}

/**
 * Sends a planned withdrawal as it is: A/AAAA and our TXT deleted only while
 * the name holds what the plan read. A failed prerequisite (someone changed
 * the name since) is read back only to say what it is now: still the
 * guest's, "stale" (the next run plans it again); else absent or kept.
 */
export async function applyWithdrawal(io: NameIo, p: PlannedWithdrawal): Promise<WithdrawResult> {
  const { name } = p;
  if (p.status === "unread") throw new Error(`withdraw ${name}: not read at plan time: ${p.reason}`);
  if (p.status === "absent") return { name, status: "absent", master: p.master };
  if (p.status === "kept")
    return { name, status: "kept", master: p.master, reason: p.reason, actual: p.actual };
  const what = `withdraw ${name}`;
  const sent = await io.update(
    what,
    withdrawSectionsFor(name, p.seen, p.ours),
    withdrawCheck(name, p.seen, p.ours),
  );
  const master = masterLabel(sent.master);
  if (sent.rcode === RCODE.NOERROR) return { name, status: "withdrawn", master };
  checkPrereqAnswer(what, master, sent.rcode);
  const now = planWithdrawal(name, p.vmid, await io.read(name, sent.master), io.ownerId);
  return now.status === "send" ? { name, status: "stale", master } : applyWithdrawal(io, now);
}

/** Withdraws `vmid`'s name now: one read, then applyWithdrawal (the CLI and tests; reconcile plans first). */
export async function withdrawName(io: NameIo, rawName: string, vmid: number): Promise<WithdrawResult> {
  const name = normalizeName(rawName, io.zone, "name");
  return applyWithdrawal(io, planWithdrawal(name, vmid, await io.read(name), io.ownerId));
}
