// Numeric values from RFC 1035, RFC 2136 and RFC 8945 that dns-packet does not
// expose (or exposes only as strings). Kept in one place so the encoders,
// the parser and the messages all agree.

export const OPCODE_QUERY = 0;
export const OPCODE_UPDATE = 5;

export const CLASS_IN = 1;
/** RFC 2136: "RRset does not exist" prerequisites and "delete an RR" updates. */
export const CLASS_NONE = 254;
/** RFC 2136: "RRset exists" prerequisites and "delete RRset/name" updates; TSIG's class. */
export const CLASS_ANY = 255;

export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  TXT: 16,
  AAAA: 28,
  OPT: 41,
  TSIG: 250,
  ANY: 255,
} as const;

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
} as const;

const rcodeNames = new Map<number, string>(Object.entries(RCODE).map(([k, v]) => [v, k]));

export function rcodeName(rcode: number): string {
  return rcodeNames.get(rcode) ?? `RCODE${rcode}`;
}

/** TSIG error field values (RFC 8945 section 3). */
export const TSIG_ERROR = {
  BADSIG: 16,
  BADKEY: 17,
  BADTIME: 18,
  BADTRUNC: 22,
} as const;

export function tsigErrorName(code: number): string {
  for (const [k, v] of Object.entries(TSIG_ERROR)) if (v === code) return k;
  return code === 0 ? "NOERROR" : rcodeName(code);
}

/** Header flag bits (second 16-bit word). */
export const FLAG_QR = 1 << 15;
export const FLAG_AA = 1 << 10;
export const FLAG_TC = 1 << 9;

/** Largest DNS message over UDP without EDNS (RFC 1035 4.2.1); larger goes over TCP. */
export const UDP_MAX = 512;
