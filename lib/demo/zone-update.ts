import { CLASS_ANY, CLASS_IN, CLASS_NONE, RCODE, TYPE } from "../dns/wire/constants.ts";
import type { ParsedMessage, RawRecord } from "../dns/wire/response.ts";
import { allRecords, inZone, normalizeOwner, type Zone, type ZoneRecord } from "./zone.ts";

// RFC 2136 UPDATE against the demo zone: prerequisites, prescan, apply, as a
// pure function from (zone, message) to (rcode, next zone), so an UPDATE
// either lands whole or not at all.

// ---------------------------------------------------------------- UPDATE (RFC 2136 section 3)

/** What this demo master stores; UPDATEs for any other type are REFUSED. */
const STORED_TYPES = new Set<number>([TYPE.A, TYPE.AAAA, TYPE.TXT]);

export interface UpdateResult {
  rcode: number;
  /** The zone after the update: the same object when nothing changed or a check failed. */
  zone: Zone;
}

/** QUERY meta types (OPT, TSIG, IXFR, AXFR, MAILB, MAILA, ANY): never records of a zone. */
function isMetaType(type: number): boolean {
  return type === TYPE.OPT || (type >= 128 && type <= 255);
}

function validRdata(type: number, rdata: Buffer): boolean {
  if (type === TYPE.A) return rdata.length === 4;
  if (type === TYPE.AAAA) return rdata.length === 16;
  if (type === TYPE.TXT) {
    let o = 0;
    while (o < rdata.length) o += 1 + (rdata[o] as number);
    return rdata.length > 0 && o === rdata.length;
  }
  return false;
}

const rrsetKey = (name: string, type: number) => `${name}\u0000${type}`;

/** 3.2: every prerequisite must hold; the first one that does not decides the rcode. */
function checkPrerequisites(zone: Zone, prereqs: RawRecord[]): number {
  const all = allRecords(zone);
  const nameInUse = (n: string) => all.some((r) => r.name === n);
  const rrset = (n: string, t: number) => all.filter((r) => r.name === n && r.type === t);
  // Value-dependent prerequisites are collected per RRset and compared as whole sets (3.2.3).
  const wanted = new Map<string, { name: string; type: number; values: Set<string> }>();
  for (const p of prereqs) {
    const name = normalizeOwner(p.name);
    if (p.ttl !== 0) return RCODE.FORMERR;
    if (!inZone(name, zone.origin)) return RCODE.NOTZONE;
    if (p.klass === CLASS_ANY || p.klass === CLASS_NONE) {
      if (p.rdata.length !== 0) return RCODE.FORMERR;
      const must = p.klass === CLASS_ANY; // ANY: must exist; NONE: must not
      if (p.type === TYPE.ANY) {
        if (nameInUse(name) !== must) return must ? RCODE.NXDOMAIN : RCODE.YXDOMAIN;
      } else if (rrset(name, p.type).length > 0 !== must) {
        return must ? RCODE.NXRRSET : RCODE.YXRRSET;
      }
    } else if (p.klass === CLASS_IN) {
      if (isMetaType(p.type)) return RCODE.FORMERR;
      const k = rrsetKey(name, p.type);
      const entry = wanted.get(k) ?? { name, type: p.type, values: new Set<string>() };
      entry.values.add(p.rdata.toString("hex"));
      wanted.set(k, entry);
    } else {
      return RCODE.FORMERR;
    }
  }
  for (const w of wanted.values()) {
    const have = new Set(rrset(w.name, w.type).map((r) => r.rdata.toString("hex")));
    if (have.size !== w.values.size || [...have].some((v) => !w.values.has(v))) return RCODE.NXRRSET;
  }
  return RCODE.NOERROR;
}

/** 3.4.1: reject the whole update before anything is applied. */
function prescanUpdates(zone: Zone, updates: RawRecord[]): number {
  for (const u of updates) {
    if (!inZone(normalizeOwner(u.name), zone.origin)) return RCODE.NOTZONE;
    if (u.klass === CLASS_IN) {
      if (isMetaType(u.type)) return RCODE.FORMERR;
      // This demo master keeps only what the tool writes; named would take more.
      if (!STORED_TYPES.has(u.type)) return RCODE.REFUSED;
      if (!validRdata(u.type, u.rdata)) return RCODE.FORMERR;
    } else if (u.klass === CLASS_ANY) {
      if (u.ttl !== 0 || u.rdata.length !== 0 || (isMetaType(u.type) && u.type !== TYPE.ANY))
        return RCODE.FORMERR;
    } else if (u.klass === CLASS_NONE) {
      if (u.ttl !== 0 || isMetaType(u.type)) return RCODE.FORMERR;
    } else {
      return RCODE.FORMERR;
    }
  }
  return RCODE.NOERROR;
}

/** 3.4.2: applies the (prescanned) updates in order to a copy of the records. */
function applyUpdates(zone: Zone, updates: RawRecord[]): ZoneRecord[] {
  let records = [...zone.records];
  const apex = zone.origin;
  for (const u of updates) {
    const name = normalizeOwner(u.name);
    const protectedAtApex = (t: number) => name === apex && (t === TYPE.SOA || t === TYPE.NS);
    if (u.klass === CLASS_IN) {
      const rdata = Buffer.from(u.rdata);
      const same = (r: ZoneRecord) => r.name === name && r.type === u.type;
      if (!records.some((r) => same(r) && r.rdata.equals(rdata))) {
        records.push({ name, type: u.type, ttl: u.ttl, rdata });
      }
      // One TTL per RRset (RFC 2181 5.2): the latest add sets it, as named does.
      records = records.map((r) => (same(r) ? { ...r, ttl: u.ttl } : r));
    } else if (u.klass === CLASS_ANY) {
      records = records.filter(
        (r) => r.name !== name || protectedAtApex(r.type) || (u.type !== TYPE.ANY && r.type !== u.type),
      );
    } else {
      // CLASS_NONE: delete one RR, never the SOA or the apex's last NS.
      if (u.type === TYPE.SOA) continue;
      const isApexNs = name === apex && u.type === TYPE.NS;
      if (isApexNs && records.filter((r) => r.name === apex && r.type === TYPE.NS).length <= 1) continue;
      records = records.filter((r) => !(r.name === name && r.type === u.type && r.rdata.equals(u.rdata)));
    }
  }
  return records;
}

function sameRecords(a: readonly ZoneRecord[], b: readonly ZoneRecord[]): boolean {
  const text = (rs: readonly ZoneRecord[]) =>
    rs
      .map((r) => `${rrsetKey(r.name, r.type)} ${r.ttl} ${r.rdata.toString("hex")}`)
      .sort()
      .join("\n");
  return text(a) === text(b);
}

/**
 * RFC 2136 processing of an already authenticated UPDATE: zone section,
 * prerequisites, prescan, then all updates or none. The serial moves by one
 * per UPDATE that changed something.
 */
export function applyUpdate(zone: Zone, msg: ParsedMessage): UpdateResult {
  const unchanged = (rcode: number) => ({ rcode, zone });
  const z = msg.questions[0];
  if (msg.questions.length !== 1 || !z || z.type !== TYPE.SOA) return unchanged(RCODE.FORMERR);
  if (z.klass !== CLASS_IN || normalizeOwner(z.name) !== zone.origin) return unchanged(RCODE.NOTAUTH);
  const prereq = checkPrerequisites(zone, msg.answers);
  if (prereq !== RCODE.NOERROR) return unchanged(prereq);
  const scan = prescanUpdates(zone, msg.authorities);
  if (scan !== RCODE.NOERROR) return unchanged(scan);
  const records = applyUpdates(zone, msg.authorities);
  if (sameRecords(records, zone.records)) return unchanged(RCODE.NOERROR);
  return { rcode: RCODE.NOERROR, zone: { ...zone, records, serial: (zone.serial + 1) >>> 0 || 1 } };
}
