import { timingSafeEqual } from "node:crypto";
import { u16, uint48 } from "../dns/wire/bytes.ts";
import { encodeName } from "../dns/wire/codec.ts";
import { CLASS_ANY, TSIG_ERROR, TYPE } from "../dns/wire/constants.ts";
import type { ParsedMessage, ParsedTsig } from "../dns/wire/response.ts";
import { encodeRecord } from "../dns/wire/rr.ts";
import { expectedMac, signReply, type TsigKey } from "../dns/wire/tsig.ts";
import { normalizeOwner } from "./zone.ts";

// The demo master's side of TSIG (RFC 8945 5.2): verify a request's MAC
// against the one key, and sign (or, on a bad key/time, annotate unsigned)
// the reply the way a real server does.

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

export function signFor(reply: Buffer, auth: RequestAuth, key: TsigKey, nowSeconds: number): Buffer {
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
