import { canonicalAddress, encodeA, encodeAaaa, encodeName, encodeTxt } from "./codec.ts";
import type { TYPE } from "./constants.ts";

// Resource records as the UPDATE and query encoders need them: a name, a
// numeric type and class, a TTL and the rdata with its RDLENGTH prefix.
// Empty rdata (RDLENGTH 0) is what RFC 2136 uses for "RRset exists",
// "RRset does not exist" and "delete RRset".

export type RecordTypeName = keyof typeof TYPE;

/** Rdata the project writes: addresses and the ownership TXT. */
export type Rdata =
  | { type: "A"; address: string }
  | { type: "AAAA"; address: string }
  | { type: "TXT"; text: string };

export const EMPTY_RDATA = Buffer.from([0, 0]);

/** RDLENGTH + rdata for one value; throws RangeError on an address of the wrong family. */
export function encodeRdata(rdata: Rdata): Buffer {
  switch (rdata.type) {
    case "A":
    case "AAAA": {
      const parsed = canonicalAddress(rdata.address);
      if (parsed?.type !== rdata.type)
        throw new RangeError(`not an ${rdata.type} address: "${rdata.address}"`);
      return rdata.type === "A" ? encodeA(parsed.address) : encodeAaaa(parsed.address);
    }
    case "TXT": {
      // A TXT character-string holds at most 255 bytes: longer text is split.
      const bytes = Buffer.from(rdata.text, "utf8");
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length || chunks.length === 0; i += 255)
        chunks.push(bytes.subarray(i, i + 255));
      return encodeTxt(chunks);
    }
  }
}

export function encodeRecord(
  name: string,
  type: number,
  klass: number,
  ttl: number,
  rdataWithLength: Buffer,
): Buffer {
  const fixed = Buffer.alloc(8);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(klass, 2);
  fixed.writeUInt32BE(ttl >>> 0, 4);
  return Buffer.concat([encodeName(name), fixed, rdataWithLength]);
}

export function encodeQuestion(name: string, type: number, klass: number): Buffer {
  const fixed = Buffer.alloc(4);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(klass, 2);
  return Buffer.concat([encodeName(name), fixed]);
}

export function encodeHeader(
  id: number,
  flags: number,
  counts: [qd: number, an: number, ns: number, ar: number],
): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id & 0xffff, 0);
  h.writeUInt16BE(flags & 0xffff, 2);
  for (const [i, n] of counts.entries()) h.writeUInt16BE(n, 4 + 2 * i);
  return h;
}
