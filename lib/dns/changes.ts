import { InputError } from "../errors.ts";
import { canonicalAddress } from "./wire/codec.ts";
import type { Prerequisite, UpdateOp } from "./wire/update.ts";

export { HERITAGE, ownershipTxt } from "./ownership.ts";

// Pure planning of safe writes: which prerequisites protect each name
// (ownership + compare-and-swap), which updates set it, how names are packed
// into messages, and what a failed prerequisite means once the name is read
// back. No I/O here; client.ts does the sending and reading.

export interface Addresses {
  a: string[];
  aaaa: string[];
}

/** What a master holds for one name (only the types we manage). */
export interface NameState extends Addresses {
  /** false when the master answered NXDOMAIN. */
  exists: boolean;
  txt: string[];
  /** The TXT set contains our ownership marker (with or without a guest label). */
  owned: boolean;
  /** The largest TTL of its A/AAAA records as served (how long resolvers may keep them). */
  ttl?: number;
}

/** Our TXT values to delete and the one to add, when a write changes whose name it is. */
export interface Relabel {
  remove: string[];
  add?: string;
}

/**
 * How a name is written. "create": the name must not exist at all (it gets
 * `label`, else our unlabelled TXT). "replace": the name must hold exactly
 * `txt` (incl. our marker) and exactly the `expect`ed addresses; `relabel`
 * swaps our marker in the same message.
 */
export type WriteForm =
  | { kind: "create"; label?: string }
  | { kind: "replace"; expect: Addresses; txt: string[]; relabel?: Relabel };

/** Which guest a write is for, and where that claim came from (see claims.ts). */
export interface Claim {
  vmid: number;
  origin: "file" | "notes";
}

export interface NameWrite {
  name: string;
  desired: Addresses;
  form: WriteForm;
  /** Set for a guest's name: a failed prerequisite is re-decided by the ownership rules. */
  claim?: Claim;
  /** The TTL to write (every record of the name); unset: the caller's default. */
  ttl?: number;
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Lower-cased, no trailing dot, LDH labels, inside `zone`; InputError naming `field` otherwise. */
export function normalizeName(name: string, zone: string, field: string): string {
  const n = name.trim().toLowerCase().replace(/\.$/, "");
  const z = zone.toLowerCase().replace(/\.$/, "");
  const labels = n.split(".");
  // "_" is allowed as a leading char for service-style names (_acme-challenge).
  if (n.length > 253 || !labels.every((l) => LABEL.test(l.replace(/^_/, "")))) {
    throw new InputError(`${field}: "${name}" is not a valid DNS name`);
  }
  if (n !== z && !n.endsWith(`.${z}`))
    throw new InputError(`${field}: "${name}" is not inside the zone ${z}`);
  return n;
}

/** Splits into canonical, sorted, de-duplicated A and AAAA lists; InputError naming `field` on a non-address. */
export function normalizeAddresses(list: readonly string[], field: string): Addresses {
  const a = new Set<string>();
  const aaaa = new Set<string>();
  for (const raw of list) {
    const parsed = canonicalAddress(raw.trim());
    if (!parsed) throw new InputError(`${field}: "${raw}" is not an IPv4 or IPv6 address`);
    (parsed.type === "A" ? a : aaaa).add(parsed.address);
  }
  return { a: [...a].sort(), aaaa: [...aaaa].sort() };
}

function sameSet(x: readonly string[], y: readonly string[]): boolean {
  if (x.length !== y.length) return false;
  const sx = [...x].sort();
  const sy = [...y].sort();
  return sx.every((v, i) => v === sy[i]);
}

export function sameAddresses(x: Addresses, y: Addresses): boolean {
  return sameSet(x.a, y.a) && sameSet(x.aaaa, y.aaaa);
}

/**
 * The name is served with another TTL than `ttl` wants. Unknown on either
 * side (no addresses to read a TTL from, no TTL asked for) is not a difference.
 */
export function ttlDiffers(state: Pick<NameState, "ttl">, ttl: number | undefined): boolean {
  return ttl !== undefined && state.ttl !== undefined && state.ttl !== ttl;
}

/** The desired addresses and TTL are what the name holds: nothing to write. */
export function alreadyServed(state: NameState, desired: Addresses, ttl: number | undefined): boolean {
  return sameAddresses(state, desired) && !ttlDiffers(state, ttl);
}

function hasRecords(s: NameState): boolean {
  return s.a.length + s.aaaa.length + s.txt.length > 0;
}

/** The write form for an explicit expectation (the caller knows what it replaces). */
export function formForExpectation(expect: Addresses, ownerTxt: string): WriteForm {
  return expect.a.length + expect.aaaa.length === 0
    ? { kind: "create" }
    : { kind: "replace", expect, txt: [ownerTxt] };
}

export type StatePlan = { kind: "write"; write: NameWrite } | { kind: "unchanged" } | { kind: "not-owned" };

/**
 * Plans a write from the name's current state (no expectation given:
 * compare-and-swap on what was read). A name with the right addresses but
 * another TTL is rewritten the same way: same values expected, same written.
 */
export function planFromState(name: string, desired: Addresses, state: NameState, ttl?: number): StatePlan {
  const withTtl = ttl === undefined ? {} : { ttl };
  if (state.owned) {
    if (alreadyServed(state, desired, ttl)) return { kind: "unchanged" };
    return {
      kind: "write",
      write: { name, desired, form: { kind: "replace", expect: state, txt: state.txt }, ...withTtl },
    };
  }
  if (hasRecords(state)) return { kind: "not-owned" };
  // Nothing we manage is there; the server's "name not in use" prerequisite decides atomically.
  return { kind: "write", write: { name, desired, form: { kind: "create" }, ...withTtl } };
}

export type FailurePlan =
  | { kind: "retry"; write: NameWrite }
  | { kind: "unchanged" }
  | { kind: "stale" }
  | { kind: "not-owned" };

/**
 * A prerequisite failed for a single-name write; `state` was read back from
 * the master that answered. Decide whether the write already happened (a
 * UDP retry after a lost reply), whether our assumption about the TXT set or
 * the name's existence was off (retry once with what is there), or whether
 * someone else changed or owns the name.
 */
export function planAfterPrereqFailure(write: NameWrite, state: NameState, retried: boolean): FailurePlan {
  if (!state.owned) {
    // Gone since we read it (our replace found nothing): someone else changed it.
    if (!hasRecords(state) && write.form.kind === "replace") return { kind: "stale" };
    return { kind: "not-owned" };
  }
  if (alreadyServed(state, write.desired, write.ttl)) return { kind: "unchanged" };
  const expected = write.form.kind === "create" ? { a: [], aaaa: [] } : write.form.expect;
  if (!retried && sameAddresses(state, expected)) {
    // The addresses are what we expected; only the ownership TXT set or the
    // name's existence differed from our assumption: CAS against what is there.
    return {
      kind: "retry",
      write: { ...write, form: { kind: "replace", expect: expected, txt: state.txt } },
    };
  }
  return { kind: "stale" };
}

/** The prerequisites and updates for one name (its records written with `write.ttl`, else `defaultTtl`). */
export function sectionsFor(
  write: NameWrite,
  defaultTtl: number,
  ownerTxt: string,
): { prerequisites: Prerequisite[]; updates: UpdateOp[] } {
  const { name, desired, form } = write;
  const ttl = write.ttl ?? defaultTtl;
  const prerequisites: Prerequisite[] = [];
  const updates: UpdateOp[] = [];
  if (form.kind === "create") {
    prerequisites.push({ kind: "nameAbsent", name });
    updates.push({ kind: "add", name, ttl, rdata: { type: "TXT", text: form.label ?? ownerTxt } });
  } else {
    prerequisites.push({ kind: "rrsetEquals", name, rdata: form.txt.map((text) => ({ type: "TXT", text })) });
    for (const type of ["A", "AAAA"] as const) {
      const old = type === "A" ? form.expect.a : form.expect.aaaa;
      prerequisites.push(
        old.length > 0
          ? { kind: "rrsetEquals", name, rdata: old.map((address) => ({ type, address })) }
          : { kind: "rrsetAbsent", name, type },
      );
      updates.push({ kind: "deleteRRset", name, type });
    }
    // The TXT set is rewritten whole (the prerequisite pinned it): our marker swapped
    // when relabelling, and every value added with the written TTL, as one RRset has
    // one TTL (RFC 2181 5.2) and an add of an existing value does not change it everywhere (Knot).
    const removed = new Set(form.relabel?.remove ?? []);
    const kept = form.txt.filter((t) => !removed.has(t) && t !== form.relabel?.add);
    updates.push({ kind: "deleteRRset", name, type: "TXT" });
    for (const text of [...kept, ...(form.relabel?.add ? [form.relabel.add] : [])])
      updates.push({ kind: "add", name, ttl, rdata: { type: "TXT", text } });
  }
  for (const address of desired.a) updates.push({ kind: "add", name, ttl, rdata: { type: "A", address } });
  for (const address of desired.aaaa)
    updates.push({ kind: "add", name, ttl, rdata: { type: "AAAA", address } });
  return { prerequisites, updates };
}

/** Prerequisites and updates that delete one owned name entirely. */
export function deleteSectionsFor(
  name: string,
  txt: string[],
): { prerequisites: Prerequisite[]; updates: UpdateOp[] } {
  return {
    prerequisites: [{ kind: "rrsetEquals", name, rdata: txt.map((text) => ({ type: "TXT", text })) }],
    updates: [{ kind: "deleteName", name }],
  };
}

/**
 * Prerequisites and updates that withdraw a guest's name: its A and AAAA
 * RRsets and our TXT `ours` go, anything else at the name (someone's MX,
 * another TXT) stays. Compare-and-swap on everything that was read: if the
 * TXT set or the addresses changed since, the master answers NXRRSET and
 * nothing is deleted.
 */
export function withdrawSectionsFor(
  name: string,
  seen: Addresses & { txt: readonly string[] },
  ours: readonly string[],
): { prerequisites: Prerequisite[]; updates: UpdateOp[] } {
  const prerequisites: Prerequisite[] = [
    { kind: "rrsetEquals", name, rdata: seen.txt.map((text) => ({ type: "TXT", text })) },
  ];
  const updates: UpdateOp[] = [];
  for (const type of ["A", "AAAA"] as const) {
    const old = type === "A" ? seen.a : seen.aaaa;
    prerequisites.push(
      old.length > 0
        ? { kind: "rrsetEquals", name, rdata: old.map((address) => ({ type, address })) }
        : { kind: "rrsetAbsent", name, type },
    );
    updates.push({ kind: "deleteRRset", name, type });
  }
  for (const text of ours) updates.push({ kind: "deleteRR", name, rdata: { type: "TXT", text } });
  return { prerequisites, updates };
}

/**
 * Greedy packing: as many names per message as fit in `maxBytes` (measured
 * by `size`, which encodes the candidate batch). A name too big on its own
 * still goes, alone.
 */
export function batchWrites<T>(items: readonly T[], size: (batch: T[]) => number, maxBytes: number): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  for (const item of items) {
    if (current.length > 0 && size([...current, item]) > maxBytes) {
      batches.push(current);
      current = [];
    }
    current.push(item);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
