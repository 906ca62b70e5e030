import { isIPv6Text } from "../../config/values.ts";
import { isIPv4 } from "./ipv4.ts";
import { ipv6FromBytes, ipv6ToBytes } from "./ipv6.ts";

// The few pieces of DNS wire format the project reads and writes: names
// (compressed on reading), A, AAAA, TXT and SOA rdata. Written here rather
// than taken from dns-packet so `dns set` does not evaluate a general DNS
// library at every start (issue 16, floor 2); the results are the same as
// dns-packet's, byte for byte and string for string (test/dns/codec.test.ts
// compares them). Every rdata encoder here writes the 2-byte RDLENGTH prefix
// followed by the rdata.

export interface SoaRdata {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

/**
 * Decodes a possibly compressed name at offset; returns the name ("." for the
 * root) and the bytes it used in place. `mail`: an RNAME (RFC 1035 8), whose
 * first label may hold dots, written escaped ("john\.doe.example.org").
 * Only pointers to earlier bytes are followed (RFC 1035 4.1.4), so a loop is
 * impossible. Throws on bytes that are not a name.
 */
export function decodeName(buf: Buffer, offset: number, mail = false): { name: string; bytes: number } {
  const labels: string[] = [];
  let o = offset;
  let lowest = offset;
  let total = 0;
  let bytes = 0;
  let jumped = false;
  for (;;) {
    if (o >= buf.length) throw new Error("Cannot decode name (buffer overflow)");
    const len = buf[o++] as number;
    if (!jumped) bytes++;
    if (len === 0) break;
    if ((len & 0xc0) === 0) {
      if (o + len > buf.length) throw new Error("Cannot decode name (buffer overflow)");
      total += len + 1;
      if (total > 254) throw new Error("Cannot decode name (name too long)");
      const label = buf.toString("utf-8", o, o + len);
      labels.push(mail ? label.replace(/\./g, "\\.") : label);
      o += len;
      if (!jumped) bytes += len;
    } else if ((len & 0xc0) === 0xc0) {
      if (o + 1 > buf.length) throw new Error("Cannot decode name (buffer overflow)");
      const target = buf.readUInt16BE(o - 1) - 0xc000;
      if (target >= lowest) throw new Error("Cannot decode name (bad pointer)");
      o = target;
      lowest = target;
      if (!jumped) bytes++;
      jumped = true;
    } else {
      throw new Error("Cannot decode name (bad label)");
    }
  }
  return { name: labels.length === 0 ? "." : labels.join("."), bytes };
}

/**
 * Encodes a domain name uncompressed and in canonical (lower case) form, the
 * form TSIG's MAC covers. Rejects what a DNS name cannot hold instead of
 * writing a corrupt label like dns-packet would.
 */
export function encodeName(name: string): Buffer {
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  if (trimmed === "") return Buffer.from([0]);
  const parts: Buffer[] = [];
  for (const label of trimmed.toLowerCase().split(".")) {
    const bytes = Buffer.from(label, "ascii");
    if (bytes.length === 0 || bytes.length > 63 || !/^[\x21-\x7e]+$/.test(label)) {
      throw new RangeError(`invalid DNS name "${name}"`);
    }
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > 255) throw new RangeError(`DNS name too long "${name}"`);
  return out;
}

/** The canonical text form of an IPv4/IPv6 address, or undefined if it is not one. */
export function canonicalAddress(address: string): { type: "A" | "AAAA"; address: string } | undefined {
  if (isIPv4(address)) return { type: "A", address: address.split(".").map(Number).join(".") };
  if (isIPv6Text(address) && !address.includes("%")) {
    return { type: "AAAA", address: ipv6FromBytes(ipv6ToBytes(address), 0) };
  }
  return undefined;
}

/** RDLENGTH + rdata of an A record; `address` is a valid dotted quad (canonicalAddress). */
export function encodeA(address: string): Buffer {
  return Buffer.from([0, 4, ...address.split(".").map(Number)]);
}

/** RDLENGTH + rdata of an AAAA record; `address` is a valid IPv6 address (canonicalAddress). */
export function encodeAaaa(address: string): Buffer {
  return Buffer.concat([Buffer.from([0, 16]), ipv6ToBytes(address)]);
}

/** RDLENGTH + rdata of a TXT record: each chunk (at most 255 bytes) as one character-string. */
export function encodeTxt(chunks: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.alloc(2)];
  for (const c of chunks) parts.push(Buffer.from([c.length]), c);
  const out = Buffer.concat(parts);
  out.writeUInt16BE(out.length - 2, 0);
  return out;
}

/** The text of a 4-byte A rdata. */
export function decodeA(rdata: Buffer): string {
  return `${rdata[0]}.${rdata[1]}.${rdata[2]}.${rdata[3]}`;
}

/** The text of a 16-byte AAAA rdata, in dns-packet's form. */
export function decodeAaaa(rdata: Buffer): string {
  return ipv6FromBytes(rdata, 0);
}

/** SOA rdata at `offset` (its RDLENGTH prefix) of a whole message; `bytes` it used, prefix included. Throws on truncation. */
export function decodeSoa(message: Buffer, offset: number): { soa: SoaRdata; bytes: number } {
  let o = offset + 2;
  const mname = decodeName(message, o);
  o += mname.bytes;
  const rname = decodeName(message, o, true);
  o += rname.bytes;
  const [serial, refresh, retry, expire, minimum] = [0, 4, 8, 12, 16].map((d) =>
    message.readUInt32BE(o + d),
  ) as [number, number, number, number, number];
  return {
    soa: { mname: mname.name, rname: rname.name, serial, refresh, retry, expire, minimum },
    bytes: o + 20 - offset,
  };
}
