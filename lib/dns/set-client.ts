import { normalizeName } from "./changes.ts";
import type { DnsClient, DnsClientOptions } from "./client.ts";
import { tsigKeyFrom } from "./key.ts";
import { createMasterSession } from "./masters.ts";
import { createReader } from "./read.ts";
import { createUpdateSender } from "./update-send.ts";
import { createWriter } from "./write.ts";

// The part of the DNS client `dns set` uses (bin/commands/dns-set.ts): reading
// a name and writing its addresses, assembled from the same session, reader,
// sender and writer as createDnsClient (client.ts) and so behaving the same.
// Apart because the CLI's launcher bundles `dns set` and every module it
// imports is parsed at each start (issue 16, floor 2): the whole client also
// brings adopt, withdraw and the propagation checks, whose node:net BlockList
// alone loads node:net (~3 ms) when the bundle starts.

export type SetClient = Pick<DnsClient, "setAddresses" | "query">;

export function createSetClient(opts: DnsClientOptions): SetClient {
  const session = createMasterSession({
    dns: opts.dns,
    key: tsigKeyFrom(opts.dns.tsig, opts.tsigSecret),
    clock: opts.clock ?? Date.now,
    ...(opts.journalHint ? { journalHint: opts.journalHint } : {}),
  });
  const reader = createReader(session);
  const sender = createUpdateSender(session, reader, session.demote);
  const writer = createWriter(session, reader, sender, opts.maxMessageBytes ?? 4096);
  return {
    setAddresses: writer.setAddresses,
    query: (name, master) => reader.read(normalizeName(name, session.zone, "name"), master),
  };
}
