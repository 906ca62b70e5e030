import { createHmac, timingSafeEqual } from "node:crypto";
import type { TsigAlgorithm } from "../../config/types.ts";
import { u16, uint48 } from "./bytes.ts";
import { encodeName } from "./codec.ts";
import { CLASS_ANY, RCODE, rcodeName, TSIG_ERROR, TYPE, tsigErrorName } from "./constants.ts";
import type { ParsedMessage, ParsedTsig } from "./response.ts";
import { encodeRecord } from "./rr.ts";

// TSIG (RFC 8945), pure: the current time is a parameter, so signing and
// verification are deterministic and testable; the only "I/O" is HMAC.

export interface TsigKey {
  name: string;
  algorithm: TsigAlgorithm;
  /** The decoded key bytes (never logged: callers build this from Secret.reveal()). */
  secret: Buffer;
}

const HASH: Record<TsigAlgorithm, string> = {
  "hmac-sha1": "sha1",
  "hmac-sha224": "sha224",
  "hmac-sha256": "sha256",
  "hmac-sha384": "sha384",
  "hmac-sha512": "sha512",
};

export const DEFAULT_FUDGE = 300;

interface TsigVariables {
  keyName: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  error: number;
  other: Buffer;
}

/** RFC 8945 4.3.3: the TSIG variables the MAC covers after the message. */
function variables(v: TsigVariables): Buffer {
  return Buffer.concat([
    encodeName(v.keyName),
    u16(CLASS_ANY),
    Buffer.alloc(4), // TTL 0
    encodeName(v.algorithm),
    uint48(v.timeSigned),
    u16(v.fudge),
    u16(v.error),
    u16(v.other.length),
    v.other,
  ]);
}

function hmac(key: TsigKey, parts: Buffer[]): Buffer {
  const h = createHmac(HASH[key.algorithm], key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Signs an unsigned message: appends the TSIG record and bumps ARCOUNT. Returns the MAC for verifying the reply. */
export function signMessage(
  message: Buffer,
  key: TsigKey,
  nowSeconds: number,
  fudge = DEFAULT_FUDGE,
): { message: Buffer; mac: Buffer } {
  return sign(
    message,
    key,
    { timeSigned: Math.floor(nowSeconds), fudge, error: 0, other: Buffer.alloc(0) },
    [],
  );
}

/**
 * Signs a reply the way a server does (RFC 8945 5.3: the request MAC is
 * prefixed). The client never needs this; test doubles of servers do, and
 * keeping it next to signMessage keeps one encoding of the TSIG record.
 */
export function signReply(
  reply: Buffer,
  key: TsigKey,
  requestMac: Buffer,
  nowSeconds: number,
  opts: { fudge?: number; error?: number; other?: Buffer } = {},
): Buffer {
  const fields = {
    timeSigned: Math.floor(nowSeconds),
    fudge: opts.fudge ?? DEFAULT_FUDGE,
    error: opts.error ?? 0,
    other: opts.other ?? Buffer.alloc(0),
  };
  return sign(reply, key, fields, [u16(requestMac.length), requestMac]).message;
}

function sign(
  message: Buffer,
  key: TsigKey,
  fields: { timeSigned: number; fudge: number; error: number; other: Buffer },
  prefix: Buffer[],
): { message: Buffer; mac: Buffer } {
  const vars: TsigVariables = { keyName: key.name, algorithm: key.algorithm, ...fields };
  const mac = hmac(key, [...prefix, message, variables(vars)]);
  const rdata = Buffer.concat([
    encodeName(vars.algorithm),
    uint48(vars.timeSigned),
    u16(vars.fudge),
    u16(mac.length),
    mac,
    message.subarray(0, 2), // original ID
    u16(vars.error),
    u16(vars.other.length),
    vars.other,
  ]);
  const record = encodeRecord(key.name, TYPE.TSIG, CLASS_ANY, 0, Buffer.concat([u16(rdata.length), rdata]));
  const signed = Buffer.concat([message, record]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { message: signed, mac };
}

/** The bytes a response MAC covers: the message as it was before the TSIG was added. */
function unsignedBytes(message: ParsedMessage, tsig: ParsedTsig): Buffer {
  const body = Buffer.from(message.raw.subarray(0, tsig.recordOffset));
  body.writeUInt16BE(tsig.originalId, 0);
  body.writeUInt16BE(body.readUInt16BE(10) - 1, 10);
  return body;
}

/**
 * The MAC a signed message must carry (RFC 8945 4.3): over the message as it
 * was before signing and the TSIG variables; a reply's MAC also covers the
 * request's MAC (`requestMac`). Servers (the demo's master) check requests
 * with it, the client checks replies.
 */
export function expectedMac(
  message: ParsedMessage,
  tsig: ParsedTsig,
  key: TsigKey,
  requestMac?: Buffer,
): Buffer {
  const prefix = requestMac ? [u16(requestMac.length), requestMac] : [];
  return hmac(key, [...prefix, unsignedBytes(message, tsig), variables(tsig)]);
}

export type TsigVerdict =
  | { ok: true }
  /** The server rejected our signature (NOTAUTH + TSIG error); its reply cannot be authenticated further. */
  | { ok: false; kind: "server-rejected"; tsigError: number; detail: string }
  /** The reply itself is not trustworthy: unsigned, wrong key, bad MAC, outside the time window. */
  | { ok: false; kind: "invalid"; detail: string };

function sameName(a: string, b: string): boolean {
  return a.replace(/\.$/, "").toLowerCase() === b.replace(/\.$/, "").toLowerCase();
}

function describeServerError(tsig: ParsedTsig, key: TsigKey, nowSeconds: number): string {
  switch (tsig.error) {
    case TSIG_ERROR.BADSIG:
      return `TSIG BADSIG: the server knows key "${key.name}" but the signature does not match (wrong secret?)`;
    case TSIG_ERROR.BADKEY:
      return `TSIG BADKEY: the server does not know key "${key.name}" with algorithm ${key.algorithm}`;
    case TSIG_ERROR.BADTIME: {
      // RFC 8945 5.2.3: the server puts its own time in "other data".
      const serverTime =
        tsig.other.length === 6
          ? tsig.other.readUInt16BE(0) * 2 ** 32 + tsig.other.readUInt32BE(2)
          : tsig.timeSigned;
      const skew = Math.round(serverTime - nowSeconds);
      return `TSIG BADTIME: clocks differ by ${skew} s (server ${skew >= 0 ? "ahead" : "behind"}), more than the fudge of ${tsig.fudge} s`;
    }
    default:
      return `TSIG error ${tsigErrorName(tsig.error)}`;
  }
}

/** RFC 8945 5.3: verify a reply to a request we signed with `requestMac`. */
export function verifyResponse(
  message: ParsedMessage,
  key: TsigKey,
  requestMac: Buffer,
  nowSeconds: number,
): TsigVerdict {
  const tsig = message.tsig;
  if (!tsig) {
    // PowerDNS 4.7 rejects a TSIG with a bare REFUSED (updates) or NOTAUTH (queries), no
    // TSIG record: still not trusted (anyone can send it), but the likely cause is worth naming.
    const hint =
      message.rcode === RCODE.REFUSED || message.rcode === RCODE.NOTAUTH
        ? `: ${rcodeName(message.rcode)} without TSIG, as PowerDNS answers when it rejects the TSIG (key name, secret or algorithm it does not accept, or clocks more than ${DEFAULT_FUDGE} s apart)`
        : "";
    return {
      ok: false,
      kind: "invalid",
      detail: `unsigned response (no TSIG record) to a signed request${hint}`,
    };
  }
  if (!sameName(tsig.keyName, key.name) || !sameName(tsig.algorithm, key.algorithm)) {
    return {
      ok: false,
      kind: "invalid",
      detail: `response signed with key "${tsig.keyName}" (${tsig.algorithm}), expected "${key.name}" (${key.algorithm})`,
    };
  }
  // BADSIG/BADKEY replies carry no MAC (the server could not use the key): report what the server said.
  if (tsig.error !== 0 && tsig.mac.length === 0) {
    return {
      ok: false,
      kind: "server-rejected",
      tsigError: tsig.error,
      detail: describeServerError(tsig, key, nowSeconds),
    };
  }
  const expected = expectedMac(message, tsig, key, requestMac);
  if (tsig.mac.length !== expected.length || !timingSafeEqual(tsig.mac, expected)) {
    return {
      ok: false,
      kind: "invalid",
      detail: "response TSIG MAC does not verify (forged or corrupted reply)",
    };
  }
  if (tsig.error !== 0) {
    return {
      ok: false,
      kind: "server-rejected",
      tsigError: tsig.error,
      detail: describeServerError(tsig, key, nowSeconds),
    };
  }
  if (Math.abs(nowSeconds - tsig.timeSigned) > tsig.fudge) {
    return {
      ok: false,
      kind: "invalid",
      detail: `response signed ${Math.round(tsig.timeSigned - nowSeconds)} s from our clock, outside the fudge of ${tsig.fudge} s`,
    };
  }
  return { ok: true };
}
