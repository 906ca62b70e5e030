import type { LoadedConfig } from "../../lib/config/load.ts";
import { normalizeName } from "../../lib/dns/changes.ts";
import type { DeleteResult, DnsClientOptions, NameOutcome } from "../../lib/dns/client.ts";
import { managedBy, previewSet } from "../../lib/dns/preview.ts";
import { createSetClient, type SetClient } from "../../lib/dns/set-client.ts";
import { ExitCode, InputError } from "../../lib/errors.ts";
import { checkFitsOneMessage, parseAddresses, parseExpect, parseTtl } from "./dns-args.ts";
import type { DnsSetResult } from "./dns-format.ts";

// `dns set` on its own, apart from the other `dns` commands (bin/commands/dns.ts
// registers it with them): the CLI's fast path (bin/dns-set-fast.ts) bundles
// this module into the launcher, so it must import nothing of the cluster
// client, observe, config validation or commander (zod, yaml, undici), which
// `dns adopt` needs, nor the DNS client's other jobs (lib/dns/set-client.ts)
// (issue 16, floor 2; test/dns/dns-set-fast.test.ts).

/** What builds the DNS client `dns set` uses; tests pass fakes, other commands the whole client. */
export type SetClientFactory = (opts: DnsClientOptions) => SetClient;

export interface DnsSetArgs {
  fqdn: string;
  addresses: string[];
  ttl?: string | number;
  /** Addresses the name is expected to hold now; ["none"] = the name must not exist yet. */
  expect?: string[];
  /** Read the name and say what would happen; send nothing. */
  dryRun?: boolean;
}

export function outcomeExit(o: NameOutcome | DeleteResult): ExitCode {
  return o.status === "stale" || o.status === "not-owned" || o.status === "refused"
    ? ExitCode.invalid
    : ExitCode.ok;
}

export async function dnsSet(
  loaded: LoadedConfig,
  args: DnsSetArgs,
  factory: SetClientFactory = createSetClient,
): Promise<DnsSetResult> {
  // All argument checks before any packet is sent.
  const zone = loaded.config.dns.zone;
  const name = normalizeName(args.fqdn, zone, "FQDN");
  if (args.addresses.length === 0) throw new InputError("ADDRESS: give at least one address");
  const desired = parseAddresses(args.addresses, "ADDRESS");
  const ttl = parseTtl(args.ttl);
  const expect = parseExpect(args.expect);
  checkFitsOneMessage(loaded, name, desired, expect, ttl ?? loaded.config.dns.ttl);
  const client = factory({ dns: loaded.config.dns, tsigSecret: loaded.secrets.tsig });
  let vm = managedBy(name, loaded.config.vms);
  const putBack = () => (vm ? { warning: `${vm}: the next reconcile will put it back` } : {});
  if (args.dryRun) {
    const state = await client.query(name);
    const outcome = previewSet(name, state.master, desired, expect, state);
    vm ??= managedBy(name, {}, { state, ownerId: loaded.config.dns.ownerId });
    const exitCode = outcomeExit(outcome);
    const current = { a: state.a, aaaa: state.aaaa };
    return {
      ok: exitCode === ExitCode.ok,
      exitCode,
      outcome,
      acceptedBy: [],
      dryRun: true,
      current,
      ...putBack(),
    };
  }
  const result = await client.setAddresses(
    [{ name, ...desired, ...(expect ? { expect } : {}) }],
    ttl === undefined ? {} : { ttl },
  );
  const outcome = result.outcomes[0] as NameOutcome;
  const exitCode = outcomeExit(outcome);
  return { ok: exitCode === ExitCode.ok, exitCode, outcome, acceptedBy: result.acceptedBy, ...putBack() };
}
