import { isIPv4, isIPv6 } from "node:net";
import dnsPacket from "dns-packet";

// Typed access to the pieces of dns-packet that @types/dns-packet does not
// declare (per-record codecs and the name codec). Every rdata codec here
// reads/writes the 2-byte RDLENGTH prefix followed by the rdata.

interface RdataCodec<T> {
  encode(data: T, buf?: Buffer, offset?: number): Buffer;
  decode: { (buf: Buffer, offset?: number): T; bytes: number };
}
interface NameCodec {
  decode(buf: Buffer, offset?: number): string;
}
interface RawCodecs {
  name: NameCodec & { decode: { bytes: number } };
  a: RdataCodec<string>;
  aaaa: RdataCodec<string>;
  txt: RdataCodec<Buffer[] | string[]>;
  soa: RdataCodec<SoaRdata>;
}

export interface SoaRdata {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

const raw = dnsPacket as unknown as RawCodecs;

/** Decodes a possibly compressed name at offset; returns the name and the bytes it used in place. */
export function decodeName(buf: Buffer, offset: number): { name: string; bytes: number } {
  const name = raw.name.decode(buf, offset);
  return { name, bytes: raw.name.decode.bytes };
}

export const rdataCodec = { a: raw.a, aaaa: raw.aaaa, txt: raw.txt, soa: raw.soa };

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
  if (isIPv4(address)) return { type: "A", address: raw.a.decode(raw.a.encode(address)) };
  if (isIPv6(address) && !address.includes("%")) {
    return { type: "AAAA", address: raw.aaaa.decode(raw.aaaa.encode(address)) };
  }
  return undefined;
}
