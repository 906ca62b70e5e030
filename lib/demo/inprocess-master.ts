import { timingSafeEqual } from "node:crypto";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type Server, type Socket as TcpSocket } from "node:net";
import type { TsigAlgorithm } from "../config/types.ts";
import { u16, u32, uint48 } from "../dns/wire/bytes.ts";
import { encodeName } from "../dns/wire/codec.ts";
import {
  CLASS_ANY,
  CLASS_IN,
  CLASS_NONE,
  FLAG_AA,
  FLAG_QR,
  FLAG_TC,
  OPCODE_QUERY,
  OPCODE_UPDATE,
  RCODE,
  TSIG_ERROR,
  TYPE,
  UDP_MAX,
} from "../dns/wire/constants.ts";
import { type ParsedMessage, type ParsedTsig, parseMessage, type RawRecord } from "../dns/wire/response.ts";
import { encodeHeader, encodeQuestion, encodeRdata, encodeRecord } from "../dns/wire/rr.ts";
import { expectedMac, signReply, type TsigKey } from "../dns/wire/tsig.ts";
import type { DemoMaster } from "./named.ts";

// The demo's DNS master when BIND's `named` is not installed: a small
// authoritative server for one zone that accepts TSIG-signed RFC 2136
// UPDATEs, so `pvemigrate-dns demo` runs the real client (prerequisites,
// compare-and-swap, ownership TXT, TSIG both ways) on a fresh machine.
// It is NOT a production DNS server: one zone, in memory, A/AAAA/TXT only.
//
// Functional core: the zone is an immutable value; handleRequest(zone, bytes,
// key, now) returns the reply bytes and the next zone (HMAC is the only
// "effect"). The socket shell at the bottom owns the current zone and the
// clock, and swaps the zone in one assignment: an UPDATE is atomic.

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
const STORED_TYPES = new Set<number>([TYPE.A, TYPE.AAAA, TYPE.TXT]);

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

function allRecords(zone: Zone): ZoneRecord[] {
  return [soaRecord(zone), ...zone.records];
}

function inZone(name: string, origin: string): boolean {
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

// ---------------------------------------------------------------- UPDATE (RFC 2136 section 3)

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

// ---------------------------------------------------------------- TSIG, server side (RFC 8945 5.2)

export type RequestAuth =
  | { kind: "unsigned" }
  | { kind: "ok"; tsig: ParsedTsig }
  | { kind: "bad"; error: number; tsig: ParsedTsig };

function sameName(a: string, b: string): boolean {
  return normalizeOwner(a) === normalizeOwner(b);
}

/** Verifies a request's TSIG with the one key this server knows. */
export function verifyRequest(msg: ParsedMessage, key: TsigKey, nowSeconds: number): RequestAuth {
  const tsig = msg.tsig;
  if (!tsig) return { kind: "unsigned" };
  if (!sameName(tsig.keyName, key.name) || !sameName(tsig.algorithm, key.algorithm)) {
    return { kind: "bad", error: TSIG_ERROR.BADKEY, tsig };
  }
  const expected = expectedMac(msg, tsig, key);
  // Truncated MACs (RFC 8945 5.2.2.1) are not accepted: the client never sends them.
  if (tsig.mac.length !== expected.length || !timingSafeEqual(tsig.mac, expected)) {
    return { kind: "bad", error: TSIG_ERROR.BADSIG, tsig };
  }
  if (Math.abs(nowSeconds - tsig.timeSigned) > tsig.fudge)
    return { kind: "bad", error: TSIG_ERROR.BADTIME, tsig };
  return { kind: "ok", tsig };
}

/** BADKEY/BADSIG: the reply carries a TSIG with the error and an empty MAC (the key could not be used). */
function appendUnsignedTsig(reply: Buffer, tsig: ParsedTsig, error: number, nowSeconds: number): Buffer {
  const rdata = Buffer.concat([
    encodeName(tsig.algorithm),
    uint48(Math.floor(nowSeconds)),
    u16(tsig.fudge),
    u16(0),
    reply.subarray(0, 2),
    u16(error),
    u16(0),
  ]);
  const record = encodeRecord(
    tsig.keyName,
    TYPE.TSIG,
    CLASS_ANY,
    0,
    Buffer.concat([u16(rdata.length), rdata]),
  );
  const out = Buffer.concat([reply, record]);
  out.writeUInt16BE(reply.readUInt16BE(10) + 1, 10);
  return out;
}

function signFor(reply: Buffer, auth: RequestAuth, key: TsigKey, nowSeconds: number): Buffer {
  switch (auth.kind) {
    case "unsigned":
      return reply;
    case "ok":
      return signReply(reply, key, auth.tsig.mac, nowSeconds, { fudge: auth.tsig.fudge });
    case "bad":
      if (auth.error !== TSIG_ERROR.BADTIME)
        return appendUnsignedTsig(reply, auth.tsig, auth.error, nowSeconds);
      // RFC 8945 5.2.3: signed, Time Signed echoes the request, our clock goes in Other Data.
      return signReply(reply, key, auth.tsig.mac, auth.tsig.timeSigned, {
        fudge: auth.tsig.fudge,
        error: TSIG_ERROR.BADTIME,
        other: uint48(Math.floor(nowSeconds)),
      });
  }
}

// ---------------------------------------------------------------- one request -> one reply

export interface Handled {
  /** Undefined: drop the datagram (not a request we can answer at all). */
  reply?: Buffer;
  zone: Zone;
}

function encodeZoneRecord(r: ZoneRecord): Buffer {
  return encodeRecord(r.name, r.type, CLASS_IN, r.ttl, Buffer.concat([u16(r.rdata.length), r.rdata]));
}

interface ReplyParts {
  rcode: number;
  aa?: boolean;
  answers?: ZoneRecord[];
  authority?: ZoneRecord[];
}

function buildReply(req: ParsedMessage, parts: ReplyParts, truncated: boolean): Buffer {
  const q = req.questions[0];
  const questions = req.questions.length === 1 && q ? [encodeQuestion(q.name, q.type, q.klass)] : [];
  const answers = truncated ? [] : (parts.answers ?? []).map(encodeZoneRecord);
  const authority = truncated ? [] : (parts.authority ?? []).map(encodeZoneRecord);
  const rd = req.flags & 0x0100;
  const flags =
    FLAG_QR |
    (req.opcode << 11) |
    (parts.aa ? FLAG_AA : 0) |
    (truncated ? FLAG_TC : 0) |
    rd |
    (parts.rcode & 0xf);
  return Buffer.concat([
    encodeHeader(req.id, flags, [questions.length, answers.length, authority.length, 0]),
    ...questions,
    ...answers,
    ...authority,
  ]);
}

function respond(zone: Zone, req: ParsedMessage, auth: RequestAuth): { parts: ReplyParts; zone: Zone } {
  if (auth.kind === "bad") return { parts: { rcode: RCODE.NOTAUTH }, zone };
  if (req.opcode === OPCODE_QUERY) {
    const q = req.questions[0];
    if (req.questions.length !== 1 || !q) return { parts: { rcode: RCODE.FORMERR }, zone };
    if (q.klass !== CLASS_IN && q.klass !== CLASS_ANY) return { parts: { rcode: RCODE.REFUSED }, zone };
    const a = answerQuery(zone, q.name, q.type);
    return {
      parts: { rcode: a.rcode, aa: a.authoritative, answers: a.answers, authority: a.authority },
      zone,
    };
  }
  if (req.opcode === OPCODE_UPDATE) {
    // Zone section first: an update for a zone we do not serve is NOTAUTH whoever sent it.
    const z = req.questions[0];
    if (req.questions.length !== 1 || !z || z.type !== TYPE.SOA)
      return { parts: { rcode: RCODE.FORMERR }, zone };
    if (z.klass !== CLASS_IN || normalizeOwner(z.name) !== zone.origin)
      return { parts: { rcode: RCODE.NOTAUTH }, zone };
    if (auth.kind === "unsigned") return { parts: { rcode: RCODE.REFUSED }, zone };
    const r = applyUpdate(zone, req);
    return { parts: { rcode: r.rcode }, zone: r.zone };
  }
  return { parts: { rcode: RCODE.NOTIMP }, zone };
}

/**
 * Answers one request. `maxBytes` is the transport's limit (512 over UDP):
 * a bigger answer goes back truncated (TC, no records) and the client asks
 * again over TCP. Never throws: malformed input gets FORMERR or is dropped.
 */
export function handleRequest(
  zone: Zone,
  request: Buffer,
  key: TsigKey,
  nowSeconds: number,
  maxBytes = 65535,
): Handled {
  const parsed = parseMessage(request);
  if (!parsed.ok) {
    if (request.length < 12 || (request.readUInt16BE(2) & FLAG_QR) !== 0) return { zone };
    const flags = FLAG_QR | (request.readUInt16BE(2) & 0x7800) | RCODE.FORMERR;
    return { reply: encodeHeader(request.readUInt16BE(0), flags, [0, 0, 0, 0]), zone };
  }
  const req = parsed.message;
  if (req.qr) return { zone }; // a response sent to us: never answer it (no reflection loops)
  try {
    const auth = verifyRequest(req, key, nowSeconds);
    const { parts, zone: next } = respond(zone, req, auth);
    let reply = signFor(buildReply(req, parts, false), auth, key, nowSeconds);
    if (reply.length > maxBytes) reply = signFor(buildReply(req, parts, true), auth, key, nowSeconds);
    return { reply, zone: next };
  } catch {
    // A name our encoder cannot write back (odd bytes in a label, say): FORMERR, zone untouched.
    const flags = FLAG_QR | (req.opcode << 11) | RCODE.FORMERR;
    return { reply: encodeHeader(req.id, flags, [0, 0, 0, 0]), zone };
  }
}

// ---------------------------------------------------------------- socket shell

export interface InProcessMasterSpec {
  zone: string;
  keyName: string;
  algorithm: TsigAlgorithm;
  /** base64, as tsig-keygen prints it. */
  secret: string;
  /** Name server label and extra records (tests); see ZoneOptions. */
  nameserver?: string;
  records?: ZoneOptions["records"];
  /** Wall clock in ms for TSIG time checks (tests). */
  clock?: () => number;
}

export interface InProcessMaster extends DemoMaster {
  kind: "in-process";
  /** The current zone serial (for tests and the demo's output). */
  serial(): number;
}

async function bindBoth(
  onUdp: (sock: UdpSocket, msg: Buffer, port: number, address: string) => void,
  onTcp: (conn: TcpSocket) => void,
): Promise<{ udp: UdpSocket; tcp: Server; port: number }> {
  // Bind UDP on a random port, then TCP on the same number; retry if TCP's is taken.
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = createSocket("udp4");
    udp.on("message", (msg, rinfo) => onUdp(udp, msg, rinfo.port, rinfo.address));
    udp.on("error", () => {}); // a send to a vanished client must not crash the demo
    await new Promise<void>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(0, "127.0.0.1", () => resolve());
    });
    const port = udp.address().port;
    const tcp = createServer(onTcp);
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once("error", () => resolve(false));
      tcp.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (ok) return { udp, tcp, port };
    await new Promise<void>((resolve) => udp.close(() => resolve()));
  }
  throw new Error("in-process DNS master: no port free for both UDP and TCP on 127.0.0.1");
}

/** Starts the demo master on 127.0.0.1 (UDP and TCP on one random port). */
export async function startInProcessMaster(spec: InProcessMasterSpec): Promise<InProcessMaster> {
  const key: TsigKey = {
    name: spec.keyName,
    algorithm: spec.algorithm,
    secret: Buffer.from(spec.secret, "base64"),
  };
  if (key.secret.length === 0) throw new Error("in-process DNS master: empty TSIG secret");
  const clock = spec.clock ?? Date.now;
  let zone = createZone({
    origin: spec.zone,
    ...(spec.nameserver ? { nameserver: spec.nameserver } : {}),
    ...(spec.records ? { records: spec.records } : {}),
  });
  const handle = (msg: Buffer, maxBytes: number): Buffer | undefined => {
    const r = handleRequest(zone, msg, key, clock() / 1000, maxBytes);
    zone = r.zone; // one assignment: an UPDATE lands entirely or not at all
    return r.reply;
  };

  const connections = new Set<TcpSocket>();
  const onTcp = (conn: TcpSocket) => {
    connections.add(conn);
    conn.setTimeout(10_000, () => conn.destroy());
    conn.on("error", () => {});
    conn.on("close", () => connections.delete(conn));
    let pending = Buffer.alloc(0);
    conn.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      // RFC 1035 4.2.2: each message is prefixed by its 2-byte length; several may follow.
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const len = pending.readUInt16BE(0);
        const reply = handle(Buffer.from(pending.subarray(2, 2 + len)), 65535);
        pending = pending.subarray(2 + len);
        if (reply) conn.write(Buffer.concat([u16(reply.length), reply]));
      }
    });
  };
  const onUdp = (sock: UdpSocket, msg: Buffer, port: number, address: string) => {
    const reply = handle(msg, UDP_MAX);
    if (reply) sock.send(reply, port, address);
  };
  const { udp, tcp, port } = await bindBoth(onUdp, onTcp);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const c of connections) c.destroy();
    await Promise.all([
      new Promise<void>((resolve) => udp.close(() => resolve())),
      new Promise<void>((resolve) => tcp.close(() => resolve())),
    ]);
  };
  return { kind: "in-process", host: "127.0.0.1", port, stop, serial: () => zone.serial };
}
