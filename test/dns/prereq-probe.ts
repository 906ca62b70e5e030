import { exchange } from "../../lib/dns/transport.ts";
import { rcodeName } from "../../lib/dns/wire/constants.ts";
import { parseMessage } from "../../lib/dns/wire/response.ts";
import { signMessage, verifyResponse } from "../../lib/dns/wire/tsig.ts";
import { encodeUpdate, type Prerequisite } from "../../lib/dns/wire/update.ts";
import type { TsigKeyFixture } from "../support/named.ts";
import { ZONE } from "./fixtures.ts";

// Sends one signed UPDATE with the given prerequisites straight to a server
// and returns its verified rcode: how each implementation judges each
// prerequisite form, without the client's own retry and read-back logic.

export async function prerequisiteVerdict(
  port: number,
  key: TsigKeyFixture,
  prerequisites: Prerequisite[],
  probeName: string,
): Promise<string> {
  const tsigKey = { name: key.name, algorithm: key.algorithm, secret: Buffer.from(key.secret, "base64") };
  const id = Math.floor(Math.random() * 0xffff);
  const unsigned = encodeUpdate({
    id,
    zone: ZONE,
    prerequisites,
    updates: [{ kind: "add", name: probeName, ttl: 60, rdata: { type: "TXT", text: "probe" } }],
  });
  const now = Date.now() / 1000;
  const signed = signMessage(unsigned, tsigKey, now);
  const r = await exchange({ host: "127.0.0.1", port }, signed.message, { deadline: Date.now() + 3000 });
  if (!r.ok) throw new Error(`no answer from 127.0.0.1:${port}: ${r.detail}`);
  const parsed = parseMessage(r.reply);
  if (!parsed.ok) throw new Error(`unparsable answer: ${parsed.error}`);
  const verdict = verifyResponse(parsed.message, tsigKey, signed.mac, now);
  if (!verdict.ok) throw new Error(`answer not verified: ${verdict.detail}`);
  return rcodeName(parsed.message.rcode);
}
