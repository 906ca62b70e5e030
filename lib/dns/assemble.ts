import type { DnsClientOptions } from "./client.ts";
import { tsigKeyFrom } from "./key.ts";
import { createMasterSession } from "./masters.ts";
import { createReader } from "./read.ts";
import { createUpdateSender } from "./update-send.ts";
import { createWriter } from "./write.ts";

// The parts every DNS client is made of, wired once: the session (which
// master, TSIG), the reader, the UPDATE sender and the writer. createDnsClient
// (client.ts) and `dns set`'s lean client (set-client.ts) both take them from
// here, so the command and the daemon cannot come to behave differently. Only
// what `dns set` needs anyway is imported (issue 16, floor 2).

/** The session, reader, sender and writer every DNS client is made of, wired as createDnsClient wants them. */
export function assembleDnsParts(opts: DnsClientOptions) {
  const session = createMasterSession({
    dns: opts.dns,
    key: tsigKeyFrom(opts.dns.tsig, opts.tsigSecret),
    clock: opts.clock ?? Date.now,
    ...(opts.journalHint ? { journalHint: opts.journalHint } : {}),
  });
  const reader = createReader(session);
  const sender = createUpdateSender(session, reader, session.demote);
  const writer = createWriter(session, reader, sender, opts.maxMessageBytes ?? 4096);
  return { session, reader, sender, writer };
}
