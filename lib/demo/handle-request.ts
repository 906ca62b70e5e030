import { u16 } from "../dns/wire/bytes.ts";
import {
  CLASS_ANY,
  CLASS_IN,
  FLAG_AA,
  FLAG_QR,
  FLAG_TC,
  OPCODE_QUERY,
  OPCODE_UPDATE,
  RCODE,
  TYPE,
} from "../dns/wire/constants.ts";
import { type ParsedMessage, parseMessage } from "../dns/wire/response.ts";
import { encodeHeader, encodeQuestion, encodeRecord } from "../dns/wire/rr.ts";
import type { TsigKey } from "../dns/wire/tsig.ts";
import { type RequestAuth, signFor, verifyRequest } from "./server-tsig.ts";
import { answerQuery, normalizeOwner, type Zone, type ZoneRecord } from "./zone.ts";
import { applyUpdate } from "./zone-update.ts";

// One request's bytes -> one reply's bytes and the next zone: parse, check
// TSIG, answer a QUERY or apply an UPDATE, sign. Pure apart from the HMAC;
// the socket shell (inprocess-master.ts) owns the current zone and the clock.

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
