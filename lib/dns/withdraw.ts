import { deleteSectionsFor, normalizeName, withdrawSectionsFor } from "./changes.ts";
import { DnsRejected, masterLabel } from "./errors.ts";
import { type NameOwner, nameOwner } from "./ownership.ts";
import { deleteCheck, withdrawCheck } from "./readback.ts";
import type { DeleteResult, NameIo, NameRecords, WithdrawResult } from "./types.ts";
import { RCODE, rcodeName } from "./wire/constants.ts";

// Taking names out of the zone, always compare-and-swap on what was read:
// `deleteName` (the CLI's `dns delete`: any name of ours, every record at it)
// and `withdrawName` (a guest's name nobody claims any more: only while our
// TXT still names that guest, and only its A/AAAA and our TXT).

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
 * Withdraws `vmid`'s name: deletes its A/AAAA and our TXT only while our TXT
 * says `vm=<vmid>` and the addresses are what was read. If someone changed
 * the name in between (NXRRSET), it is read again: still that guest's, one
 * more try; anyone else's now, nothing is deleted.
 */
export async function withdrawName(io: NameIo, rawName: string, vmid: number): Promise<WithdrawResult> {
  const name = normalizeName(rawName, io.zone, "name");
  const what = `withdraw ${name}`;
  let state = await io.read(name);
  for (let attempt = 0; ; attempt++) {
    const owner = nameOwner(state, io.ownerId);
    if (owner.kind === "free") return { name, status: "absent", master: state.master };
    const reason = notTheGuests(owner, vmid);
    if (reason !== undefined || owner.kind !== "vm")
      return { name, status: "kept", master: state.master, reason: reason ?? "", actual: holding(state) };
    if (attempt === 2) return { name, status: "stale", master: state.master };
    const sent = await io.update(
      what,
      withdrawSectionsFor(name, state, owner.ours),
      withdrawCheck(name, state, owner.ours),
    );
    const master = masterLabel(sent.master);
    if (sent.rcode === RCODE.NOERROR) return { name, status: "withdrawn", master };
    checkPrereqAnswer(what, master, sent.rcode);
    state = await io.read(name, sent.master);
  }
}
