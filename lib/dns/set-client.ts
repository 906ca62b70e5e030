import { assembleDnsParts } from "./assemble.ts";
import { normalizeName } from "./changes.ts";
import type { DnsClient, DnsClientOptions } from "./client.ts";

// The part of the DNS client `dns set` uses (bin/commands/dns-set.ts): reading
// a name and writing its addresses, from the same session, reader, sender and
// writer as createDnsClient (client.ts), both put together by assemble.ts so
// the two cannot drift. Apart because the CLI's launcher bundles `dns set` and every module it
// imports is parsed at each start (issue 16, floor 2): the whole client also
// brings adopt, withdraw and the propagation checks, whose node:net BlockList
// alone loads node:net (~3 ms) when the bundle starts.

export type SetClient = Pick<DnsClient, "setAddresses" | "query">;

export function createSetClient(opts: DnsClientOptions): SetClient {
  const { session, reader, writer } = assembleDnsParts(opts);
  return {
    setAddresses: writer.setAddresses,
    query: (name, master) => reader.read(normalizeName(name, session.zone, "name"), master),
  };
}
