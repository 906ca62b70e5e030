import type { Addresses, Claim } from "./changes.ts";
import { decideClaim } from "./claims.ts";
import { DnsRejected, masterLabel } from "./errors.ts";
import { nameOwner, ownershipTxt } from "./ownership.ts";
import type { UpdateCheck } from "./readback.ts";
import type { NameIo, NameRecords } from "./types.ts";
import { RCODE, rcodeName } from "./wire/constants.ts";
import type { Prerequisite, UpdateOp } from "./wire/update.ts";
import { PREREQ_FAILURES } from "./withdraw.ts";

// `dns adopt NAME`: a name that exists without our ownership TXT (created by
// hand before pvemigrate-dns ran) becomes ours by adding one TXT that names
// the guest the config gives it to. Nothing else at the name changes: the
// A/AAAA, the other TXT values and any other record stay, and the add is
// compare-and-swap on what was read (shown to the admin first), so a name
// that changed meanwhile is not adopted. The next reconcile then manages it.

export type AdoptResult =
  /** Our TXT was added (or would be, on a dry run). */
  | { name: string; status: "adopted"; master: string; txt: string; held: Addresses & { txt: string[] } }
  /** Already ours for this guest (or ours without a guest label: reconcile labels it). */
  | { name: string; status: "unchanged"; master: string; reason: string }
  /** Nothing there to adopt: reconcile creates it. */
  | { name: string; status: "absent"; master: string }
  /** Ours for another guest, or the name changed between the read and the update: nothing changed. */
  | { name: string; status: "refused"; master: string; reason: string };

/**
 * PURE: what adopting `name` for `vmid` does, given what the master holds.
 * A claim from the VM's Notes gets no more than the reconcile gives it
 * (claims.ts decideClaim): it never takes a name of ours it does not hold.
 */
export function planAdopt(
  state: NameRecords,
  ownerId: string,
  vmid: number,
  origin: Claim["origin"] = "file",
): { kind: "add"; txt: string } | Exclude<AdoptResult, { status: "adopted" }> {
  const { name, master } = state;
  const owner = nameOwner(state, ownerId);
  const decision = decideClaim({ vmid, origin }, owner);
  if (origin === "notes" && decision.kind === "refuse")
    return {
      name,
      status: "refused",
      master,
      reason: `VM ${vmid} claims it in its Notes, but it ${decision.reason}`,
    };
  switch (owner.kind) {
    case "free":
      return { name, status: "absent", master };
    case "foreign":
      return { kind: "add", txt: ownershipTxt(ownerId, vmid) };
    case "unlabelled":
      return {
        name,
        status: "unchanged",
        master,
        reason: "already ours (no guest label: reconcile labels it)",
      };
    case "vm":
      return owner.vmid === vmid
        ? { name, status: "unchanged", master, reason: `already ours for VM ${vmid}` }
        : { name, status: "refused", master, reason: `our TXT names VM ${owner.vmid}, not VM ${vmid}` };
    case "contested":
      return {
        name,
        status: "refused",
        master,
        reason: `our TXT names several VMs (${owner.vmids.join(", ")})`,
      };
  }
}

/** PURE: add `txt` while the name's A, AAAA and TXT sets are exactly what was read. */
export function adoptSections(
  name: string,
  held: Addresses & { txt: readonly string[] },
  txt: string,
  ttl: number,
): { prerequisites: Prerequisite[]; updates: UpdateOp[] } {
  const prerequisites: Prerequisite[] = [];
  const pin = (type: "A" | "AAAA", values: readonly string[]) =>
    values.length > 0
      ? prerequisites.push({ kind: "rrsetEquals", name, rdata: values.map((address) => ({ type, address })) })
      : prerequisites.push({ kind: "rrsetAbsent", name, type });
  pin("A", held.a);
  pin("AAAA", held.aaaa);
  prerequisites.push(
    held.txt.length > 0
      ? { kind: "rrsetEquals", name, rdata: held.txt.map((text) => ({ type: "TXT", text })) }
      : { kind: "rrsetAbsent", name, type: "TXT" },
  );
  return { prerequisites, updates: [{ kind: "add", name, ttl, rdata: { type: "TXT", text: txt } }] };
}

/** After a reply that cannot be trusted: applied when our TXT is there. */
function adoptCheck(name: string, txt: string): UpdateCheck {
  return {
    names: [name],
    judge: (states) => {
      const s = states.get(name);
      if (!s) return "unknown";
      return s.txt.includes(txt) ? "applied" : "not-applied";
    },
  };
}

export interface AdoptOptions {
  vmid: number;
  /** Where the VM's claim comes from (default the config file). */
  origin?: Claim["origin"];
  /** TTL of the added TXT when the name's A/AAAA have none to match. */
  ttl: number;
  dryRun?: boolean;
}

export async function adoptName(io: NameIo, name: string, opts: AdoptOptions): Promise<AdoptResult> {
  const state = await io.read(name);
  const plan = planAdopt(state, io.ownerId, opts.vmid, opts.origin);
  if (!("kind" in plan)) return plan;
  const held = { a: state.a, aaaa: state.aaaa, txt: state.txt };
  if (opts.dryRun) return { name, status: "adopted", master: state.master, txt: plan.txt, held };
  const what = `adopt ${name}`;
  // One TTL per RRset (RFC 2181 5.2): the TXT takes the one its addresses are served with.
  const sections = adoptSections(name, held, plan.txt, state.ttl ?? opts.ttl);
  const sent = await io.update(what, sections, adoptCheck(name, plan.txt));
  const master = masterLabel(sent.master);
  if (sent.rcode === RCODE.NOERROR) return { name, status: "adopted", master, txt: plan.txt, held };
  if (!PREREQ_FAILURES.has(sent.rcode))
    throw new DnsRejected(what, master, rcodeName(sent.rcode), "unexpected answer to an update");
  return {
    name,
    status: "refused",
    master,
    reason: "it changed after it was read; nothing changed, look again",
  };
}
