import type { AttemptResult } from "./failover.ts";
import { RCODE, rcodeName } from "./wire/constants.ts";
import { type ParsedMessage, parseMessage } from "./wire/response.ts";
import { type TsigKey, verifyResponse } from "./wire/tsig.ts";

// Pure: turns the bytes a master sent back into a decision for the failover
// loop. Not trustworthy or "cannot serve now" -> try the next master.
// A verified answer, or a refusal the server signed or explained -> final.

export type FinalReply =
  | { kind: "answer"; message: ParsedMessage }
  | { kind: "rejected"; rcode: string; detail: string };

export interface ReplyContext {
  id: number;
  opcode: number;
  key: TsigKey;
  requestMac: Buffer;
  nowSeconds: number;
}

const REFUSAL_DETAIL: Record<number, string> = {
  [RCODE.REFUSED]: "the server refuses this request (update-policy / ACL does not allow it)",
  [RCODE.NOTAUTH]: "the server is not authoritative for the zone, or the key is not authorized",
  [RCODE.NOTZONE]: "a name is outside the zone named in the request",
  [RCODE.FORMERR]: "the server could not parse the request",
};

export function classifyReply(reply: Buffer, ctx: ReplyContext): AttemptResult<FinalReply> {
  const parsed = parseMessage(reply);
  if (!parsed.ok) return { kind: "next", reason: parsed.error };
  const msg = parsed.message;
  if (msg.id !== ctx.id || !msg.qr || msg.opcode !== ctx.opcode) {
    return { kind: "next", reason: "reply does not match the request (id/opcode)" };
  }
  const verdict = verifyResponse(msg, ctx.key, ctx.requestMac, ctx.nowSeconds);
  if (!verdict.ok) {
    if (verdict.kind === "server-rejected") {
      return {
        kind: "final",
        value: { kind: "rejected", rcode: rcodeName(msg.rcode), detail: verdict.detail },
      };
    }
    return { kind: "next", reason: `reply rejected: ${verdict.detail}` };
  }
  switch (msg.rcode) {
    case RCODE.SERVFAIL:
      // A secondary forwarding to a dead primary answers so: another candidate may work.
      return {
        kind: "next",
        reason: "SERVFAIL (server failure; a secondary whose primary is unreachable answers so)",
      };
    case RCODE.NOTIMP:
      return { kind: "next", reason: "NOTIMP (this server does not accept updates)" };
    case RCODE.REFUSED:
    case RCODE.NOTAUTH:
    case RCODE.NOTZONE:
    case RCODE.FORMERR:
      return {
        kind: "final",
        value: { kind: "rejected", rcode: rcodeName(msg.rcode), detail: REFUSAL_DETAIL[msg.rcode] as string },
      };
    default:
      return { kind: "final", value: { kind: "answer", message: msg } };
  }
}
