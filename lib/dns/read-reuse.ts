import type { DnsConfig } from "../config/types.ts";
import type { NameState } from "./changes.ts";

// PURE: which names a steady run must read at the master, and which can take
// the answer the last run read. A zone's SOA serial changes with every change
// to the zone (RFC 1035 3.3.13; RFC 2136 3.7: after a dynamic update "the
// zone's SOA serial must be incremented"; BIND, Knot and PowerDNS do so), so
// while the serial at the same master is the one read just BEFORE the last
// run's reads, no name of the zone can hold anything else than it read then.
// An admin may still edit a zone file and reload it without a bump: a full
// read is due at least every `fullReadMs` whatever the serial says. The TSIG
// key is part of what was read: a server with views chosen by key (BIND
// `match-clients { key ...; }`) answers each key from its own copy of the
// zone, whose serial may happen to match. Anything unexpected (no record,
// another zone, master or key, another serial, an old record) means reading
// everything, so this is an optimisation only: the plan is the one a full read
// of an unchanged zone would give.

/** What a run read of a zone's names at one master, and the serial read before those reads. */
export interface ZoneReads {
  zone: string;
  /** The master label the SOA and every name read came from. */
  master: string;
  /** The TSIG key the reads were signed with (keyLabel: name and algorithm, never the secret). */
  key: string;
  serial: number;
  /** When the full read this record stems from started (ms); the bound runs from here. */
  readAt: number;
  names: ReadonlyMap<string, NameState>;
}

/** The SOA as this run found it before reading any name. */
export interface SerialNow {
  zone: string;
  master: string;
  /** keyLabel of the key this run signs with. */
  key: string;
  serial: number;
}

/** Which key signs the reads: its name (a DNS name: case and a final dot do not matter) and algorithm. */
export const keyLabel = (tsig: Pick<DnsConfig["tsig"], "name" | "algorithm">): string =>
  `${tsig.name.toLowerCase().replace(/\.$/, "")} (${tsig.algorithm})`;

export type ReuseVerdict =
  | { reuse: true; answers: ReadonlyMap<string, NameState>; toRead: string[] }
  | { reuse: false; why: string; toRead: string[] };

/** The names of `wanted` that need a read now; the others take their recorded answers. */
export function namesToRead(
  wanted: readonly string[],
  record: ZoneReads | undefined,
  soa: SerialNow | undefined,
  now: number,
  fullReadMs: number,
): ReuseVerdict {
  const all = { reuse: false as const, toRead: [...wanted] };
  if (record === undefined) return { ...all, why: "no earlier read recorded" };
  if (soa === undefined) return { ...all, why: "the zone's serial could not be read" };
  if (record.zone !== soa.zone) return { ...all, why: `the record is of zone ${record.zone}` };
  if (record.master !== soa.master)
    return { ...all, why: `read at ${record.master}, ${soa.master} answers now` };
  if (record.key !== soa.key)
    return { ...all, why: `read with key ${record.key}, signed with ${soa.key} now` };
  if (record.serial !== soa.serial) return { ...all, why: `serial ${record.serial} is now ${soa.serial}` };
  const age = now - record.readAt;
  // A clock that went back says nothing about how old the record is.
  if (age < 0 || age >= fullReadMs) return { ...all, why: "a full read is due" };
  const answers = new Map<string, NameState>();
  const toRead: string[] = [];
  for (const name of wanted) {
    const known = record.names.get(name);
    if (known === undefined) toRead.push(name);
    else answers.set(name, known);
  }
  return { reuse: true, answers, toRead };
}

/**
 * The record to keep after this run's reads, or undefined when none may be
 * kept: every fresh read must come from the master whose serial was read
 * before them (a failover in between read another server). When reused, the
 * earlier record's names are kept with the fresh ones, and its `readAt`, so
 * the bound still runs from the full read.
 */
export function nextRecord(
  soa: SerialNow | undefined,
  verdict: ReuseVerdict,
  fresh: ReadonlyMap<string, NameState & { master?: string }>,
  now: number,
  earlier: ZoneReads | undefined,
): ZoneReads | undefined {
  if (soa === undefined) return undefined;
  // Reused: every name of the earlier record still holds (another step may have asked for fewer names).
  const names = new Map<string, NameState>(verdict.reuse && earlier ? earlier.names : []);
  if (verdict.reuse) for (const [name, state] of verdict.answers) names.set(name, state);
  for (const [name, { master, ...state }] of fresh) {
    if (master !== soa.master) return undefined;
    names.set(name, state);
  }
  const readAt = verdict.reuse && earlier ? earlier.readAt : now;
  return { zone: soa.zone, master: soa.master, key: soa.key, serial: soa.serial, readAt, names };
}
