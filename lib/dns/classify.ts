import type { AttemptResult } from "./failover.ts";
import { OPCODE_UPDATE, RCODE, rcodeName } from "./wire/constants.ts";
import { type ParsedMessage, parseMessage } from "./wire/response.ts";
import { type TsigKey, verifyResponse } from "./wire/tsig.ts";

// Pure: turns the bytes a master sent back into a decision for the failover
// loop. Not trustworthy or "cannot serve now" -> try the next master.
// A verified answer, or a refusal the server signed or explained -> final.
// For an UPDATE, "next" after bytes came back that we cannot trust (or a
// SERVFAIL, which a forwarding secondary also answers when the primary's
// reply was lost) is ambiguous: the update may have been applied.

export type FinalReply =
  | { kind: "answer"; message: ParsedMessage }
  | { kind: "rejected"; rcode: string; detail: string };

export interface ReplyContext {
  id: number;
  opcode: number;
  /** The request's question (the zone's SOA for an UPDATE): the reply must echo exactly this. */
  question: { name: string; type: number; klass: number };
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

function sameQuestion(msg: ParsedMessage, q: ReplyContext["question"]): boolean {
  const [only, ...more] = msg.questions;
  return (
    only !== undefined &&
    more.length === 0 &&
    only.name.toLowerCase().replace(/\.$/, "") === q.name.toLowerCase().replace(/\.$/, "") &&
    only.type === q.type &&
    only.klass === q.klass
  );
}

export function classifyReply(reply: Buffer, ctx: ReplyContext): AttemptResult<FinalReply> {
  const unsure = ctx.opcode === OPCODE_UPDATE ? { ambiguous: true } : {};
  const parsed = parseMessage(reply);
  if (!parsed.ok) return { kind: "next", reason: parsed.error, ...unsure };
  const msg = parsed.message;
  if (msg.id !== ctx.id || !msg.qr || msg.opcode !== ctx.opcode) {
    return { kind: "next", reason: "reply does not match the request (id/opcode)", ...unsure };
  }
  const verdict = verifyResponse(msg, ctx.key, ctx.requestMac, ctx.nowSeconds);
  if (!verdict.ok) {
    if (verdict.kind === "server-rejected") {
      return {
        kind: "final",
        value: { kind: "rejected", rcode: rcodeName(msg.rcode), detail: verdict.detail },
      };
    }
    return { kind: "next", reason: `reply rejected: ${verdict.detail}`, ...unsure };
  }
  // The MAC binds the reply to our request's MAC, not to our question: a
  // signed reply about another name, type or zone is not an answer to ours.
  // (An error reply may leave the question out: a server drops the section
  // of a request it could not handle; it then changes nothing either way.)
  const errorWithoutQuestion = msg.rcode !== RCODE.NOERROR && msg.questions.length === 0;
  if (!errorWithoutQuestion && !sameQuestion(msg, ctx.question)) {
    const got = msg.questions.map((q) => `${q.name}/${q.type}`).join(", ") || "none";
    return {
      kind: "next",
      reason: `reply rejected: its question (${got}) differs from the request's (${ctx.question.name}/${ctx.question.type})`,
      ...unsure,
    };
  }
  switch (msg.rcode) {
    case RCODE.SERVFAIL:
      // A secondary forwarding to a dead primary answers so: another candidate may work.
      return {
        kind: "next",
        reason: "SERVFAIL (server failure; a secondary whose primary is unreachable answers so)",
        ...unsure,
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
