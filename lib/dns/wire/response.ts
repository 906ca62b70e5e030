import { decodeA, decodeAaaa, decodeName, decodeSoa, type SoaRdata } from "./codec.ts";
import { FLAG_QR, FLAG_TC, TYPE } from "./constants.ts";

// Parses any DNS message received from the network. It never throws: bytes
// from a peer (or an attacker) can be anything, and a parse failure must
// become a clear "malformed response" error, not an exception in a hook.

export interface RawRecord {
  name: string;
  type: number;
  klass: number;
  ttl: number;
  /** The rdata without its length prefix. */
  rdata: Buffer;
  /** Where the rdata (after RDLENGTH) starts in the message: compressed names point into the whole message. */
  rdataOffset: number;
}

export interface ParsedTsig {
  keyName: string;
  algorithm: string;
  /** Seconds since the epoch (48-bit on the wire). */
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
  /** Offset of the TSIG record in the message: the MAC covers everything before it. */
  recordOffset: number;
}

export interface ParsedMessage {
  id: number;
  flags: number;
  qr: boolean;
  opcode: number;
  truncated: boolean;
  rcode: number;
  questions: Array<{ name: string; type: number; klass: number }>;
  answers: RawRecord[];
  authorities: RawRecord[];
  /** Additional records without the TSIG record. */
  additionals: RawRecord[];
  tsig?: ParsedTsig;
  raw: Buffer;
}

export type ParseResult = { ok: true; message: ParsedMessage } | { ok: false; error: string };

class Malformed extends Error {}

function need(buf: Buffer, offset: number, n: number, what: string): void {
  if (offset + n > buf.length) throw new Malformed(`truncated ${what} at byte ${offset}`);
}

function readName(buf: Buffer, offset: number): { name: string; bytes: number } {
  try {
    return decodeName(buf, offset);
  } catch (err) {
    throw new Malformed(`bad name at byte ${offset}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function readRecord(buf: Buffer, offset: number): { record: RawRecord; next: number } {
  const { name, bytes } = readName(buf, offset);
  let o = offset + bytes;
  need(buf, o, 10, "record header");
  const type = buf.readUInt16BE(o);
  const klass = buf.readUInt16BE(o + 2);
  const ttl = buf.readUInt32BE(o + 4);
  const rdlength = buf.readUInt16BE(o + 8);
  o += 10;
  need(buf, o, rdlength, "rdata");
  return {
    record: { name, type, klass, ttl, rdata: buf.subarray(o, o + rdlength), rdataOffset: o },
    next: o + rdlength,
  };
}

function parseTsigRdata(buf: Buffer, record: RawRecord, recordOffset: number): ParsedTsig {
  const end = record.rdataOffset + record.rdata.length;
  const { name: algorithm, bytes } = readName(buf, record.rdataOffset);
  let o = record.rdataOffset + bytes;
  const take = (n: number) => {
    if (o + n > end) throw new Malformed("truncated TSIG rdata");
    const at = o;
    o += n;
    return at;
  };
  const timeAt = take(6);
  const timeSigned = buf.readUInt16BE(timeAt) * 2 ** 32 + buf.readUInt32BE(timeAt + 2);
  const fudge = buf.readUInt16BE(take(2));
  const macSize = buf.readUInt16BE(take(2));
  const mac = buf.subarray(take(macSize), o);
  const originalId = buf.readUInt16BE(take(2));
  const error = buf.readUInt16BE(take(2));
  const otherLen = buf.readUInt16BE(take(2));
  const other = buf.subarray(take(otherLen), o);
  if (o !== end) throw new Malformed("trailing bytes in TSIG rdata");
  return { keyName: record.name, algorithm, timeSigned, fudge, mac, originalId, error, other, recordOffset };
}

function parseUnsafe(buf: Buffer): ParsedMessage {
  need(buf, 0, 12, "header");
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o)) as [number, number, number, number];
  let o = 12;
  const questions: ParsedMessage["questions"] = [];
  for (let i = 0; i < counts[0]; i++) {
    const { name, bytes } = readName(buf, o);
    o += bytes;
    need(buf, o, 4, "question");
    questions.push({ name, type: buf.readUInt16BE(o), klass: buf.readUInt16BE(o + 2) });
    o += 4;
  }
  const sections: RawRecord[][] = [[], [], []];
  let tsig: ParsedTsig | undefined;
  for (let s = 0; s < 3; s++) {
    const count = counts[s + 1] as number;
    for (let i = 0; i < count; i++) {
      const start = o;
      const { record, next } = readRecord(buf, o);
      o = next;
      if (record.type === TYPE.TSIG) {
        // RFC 8945 5.2: a TSIG anywhere but last in the additional section is a FORMERR.
        if (s !== 2 || i !== count - 1) throw new Malformed("TSIG record is not the last record");
        tsig = parseTsigRdata(buf, record, start);
      } else {
        sections[s]!.push(record);
      }
    }
  }
  if (o !== buf.length) throw new Malformed(`${buf.length - o} trailing bytes after the last record`);
  return {
    id,
    flags,
    qr: (flags & FLAG_QR) !== 0,
    opcode: (flags >> 11) & 0xf,
    truncated: (flags & FLAG_TC) !== 0,
    rcode: flags & 0xf,
    questions,
    answers: sections[0]!,
    authorities: sections[1]!,
    additionals: sections[2]!,
    ...(tsig ? { tsig } : {}),
    raw: buf,
  };
}

export function parseMessage(buf: Buffer): ParseResult {
  try {
    return { ok: true, message: parseUnsafe(buf) };
  } catch (err) {
    const detail = err instanceof Malformed ? err.message : `unexpected: ${String(err)}`;
    return { ok: false, error: `malformed DNS message (${detail})` };
  }
}

/**
 * Reads just the header fields a transport needs to match a reply to its
 * query (id, TC bit) before full parsing; undefined if shorter than a header.
 */
export function peekHeader(buf: Buffer): { id: number; truncated: boolean; qr: boolean } | undefined {
  if (buf.length < 12) return undefined;
  const flags = buf.readUInt16BE(2);
  return { id: buf.readUInt16BE(0), truncated: (flags & FLAG_TC) !== 0, qr: (flags & FLAG_QR) !== 0 };
}

// Rdata readers for the record types the project reads back. They return
// undefined on bad rdata instead of throwing, for the same reason as above.

export function readAddress(record: RawRecord): string | undefined {
  if (record.type === TYPE.A && record.rdata.length === 4) return decodeA(record.rdata);
  if (record.type === TYPE.AAAA && record.rdata.length === 16) return decodeAaaa(record.rdata);
  return undefined;
}

/** A TXT record's character-strings joined (RFC 7208 style), or undefined if malformed. */
export function readTxt(record: RawRecord): string | undefined {
  if (record.type !== TYPE.TXT) return undefined;
  const parts: Buffer[] = [];
  let o = 0;
  while (o < record.rdata.length) {
    const len = record.rdata[o] as number;
    if (o + 1 + len > record.rdata.length) return undefined;
    parts.push(record.rdata.subarray(o + 1, o + 1 + len));
    o += 1 + len;
  }
  return Buffer.concat(parts).toString("utf8");
}

export function readSoa(message: ParsedMessage, record: RawRecord): SoaRdata | undefined {
  if (record.type !== TYPE.SOA) return undefined;
  try {
    const { soa, bytes } = decodeSoa(message.raw, record.rdataOffset - 2);
    return bytes === record.rdata.length + 2 ? soa : undefined;
  } catch {
    return undefined;
  }
}
