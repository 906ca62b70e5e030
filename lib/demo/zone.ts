import { u32 } from "../dns/wire/bytes.ts";
import { encodeName } from "../dns/wire/codec.ts";
import { RCODE, TYPE } from "../dns/wire/constants.ts";
import { encodeRdata } from "../dns/wire/rr.ts";

// The demo master's zone: an immutable value (one origin, its SOA, A/AAAA/TXT
// records) and how a QUERY is answered from it. Pure: the UPDATE, TSIG and
// socket modules build on it without touching I/O here.

// ---------------------------------------------------------------- zone state

export interface ZoneRecord {
  /** Lower case, no trailing dot. */
  name: string;
  type: number;
  ttl: number;
  /** Rdata without its length prefix, names uncompressed (so equal values are equal bytes). */
  rdata: Buffer;
}

export interface Zone {
  origin: string;
  serial: number;
  /** SOA fields besides the serial (the SOA record is synthesized from them). */
  soa: { mname: string; rname: string; refresh: number; retry: number; expire: number; minimum: number };
  /** Everything but the SOA. */
  records: readonly ZoneRecord[];
}

/** The record types the demo master stores (what the client writes, plus the apex NS). */
export function normalizeOwner(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

export interface ZoneOptions {
  origin: string;
  /** First label of the name server's name (default "master"): its A is 127.0.0.1. */
  nameserver?: string;
  /** Extra records, e.g. someone else's name the tool must never touch. */
  records?: Array<{ name: string; type: "A" | "AAAA" | "TXT"; value: string; ttl?: number }>;
}

function rdataOf(type: "A" | "AAAA" | "TXT", value: string): Buffer {
  // encodeRdata writes RDLENGTH first; the zone keeps bare rdata.
  return encodeRdata(type === "TXT" ? { type, text: value } : { type, address: value }).subarray(2);
}

export function createZone(opts: ZoneOptions): Zone {
  const origin = normalizeOwner(opts.origin);
  const ns = `${opts.nameserver ?? "master"}.${origin}`;
  const extra = (opts.records ?? []).map((r) => ({
    name: normalizeOwner(r.name),
    type: TYPE[r.type],
    ttl: r.ttl ?? 300,
    rdata: rdataOf(r.type, r.value),
  }));
  return {
    origin,
    serial: 1,
    soa: { mname: ns, rname: `hostmaster.${origin}`, refresh: 3600, retry: 600, expire: 86400, minimum: 60 },
    records: [
      // A zone's NS needs an address (named refuses to load one without): ours is loopback.
      { name: origin, type: TYPE.NS, ttl: 300, rdata: encodeName(ns) },
      { name: ns, type: TYPE.A, ttl: 300, rdata: Buffer.from([127, 0, 0, 1]) },
      ...extra,
    ],
  };
}

function soaRecord(zone: Zone): ZoneRecord {
  const s = zone.soa;
  return {
    name: zone.origin,
    type: TYPE.SOA,
    ttl: 300,
    rdata: Buffer.concat([
      encodeName(s.mname),
      encodeName(s.rname),
      ...[zone.serial, s.refresh, s.retry, s.expire, s.minimum].map(u32),
    ]),
  };
}

export function allRecords(zone: Zone): ZoneRecord[] {
  return [soaRecord(zone), ...zone.records];
}

export function inZone(name: string, origin: string): boolean {
  return name === origin || name.endsWith(`.${origin}`);
}

// ---------------------------------------------------------------- QUERY

export interface QueryAnswer {
  rcode: number;
  authoritative: boolean;
  answers: ZoneRecord[];
  /** The SOA for a negative answer (RFC 2308), so resolvers can cache it. */
  authority: ZoneRecord[];
}

export function answerQuery(zone: Zone, rawName: string, type: number): QueryAnswer {
  const name = normalizeOwner(rawName);
  if (!inZone(name, zone.origin))
    return { rcode: RCODE.REFUSED, authoritative: false, answers: [], authority: [] };
  const all = allRecords(zone);
  const answers = all.filter((r) => r.name === name && (type === TYPE.ANY || r.type === type));
  if (answers.length > 0) return { rcode: RCODE.NOERROR, authoritative: true, answers, authority: [] };
  // A name exists when it owns records or has descendants that do (an empty non-terminal).
  const exists = all.some((r) => r.name === name || r.name.endsWith(`.${name}`));
  return {
    rcode: exists ? RCODE.NOERROR : RCODE.NXDOMAIN,
    authoritative: true,
    answers: [],
    authority: [soaRecord(zone)],
  };
}
