import type { LoadedConfig } from "../../lib/config/load.ts";
import type { AdoptResult } from "../../lib/dns/adopt.ts";
import { normalizeName } from "../../lib/dns/changes.ts";
import { createDnsClient } from "../../lib/dns/client.ts";
import { ExitCode, InputError } from "../../lib/errors.ts";
import type { ClientFactory } from "./dns.ts";
import { type DnsShowResult, formatShow } from "./dns-format.ts";

// `dns adopt NAME`: shows what the masters hold for a name the config gives
// to a VM, then adds our ownership TXT naming that VM (lib/dns/adopt.ts).
// A name no VM of the config file claims is refused before anything is asked.

export interface DnsAdoptResult {
  ok: boolean;
  exitCode: ExitCode;
  vmid: number;
  /** What every master held before (dns show). */
  before: DnsShowResult;
  result: AdoptResult;
  dryRun?: true;
}

/** The VM of the config file whose `dns:` lists `name`; InputError when none does. */
export function claimantOf(loaded: LoadedConfig, name: string): number {
  const vm = Object.values(loaded.config.vms).find((v) => v.dns.includes(name));
  if (!vm) throw new InputError(`NAME: no VM in the config claims ${name} (list it under a VM's dns: first)`);
  return vm.vmid;
}

export async function dnsAdopt(
  loaded: LoadedConfig,
  fqdn: string,
  show: (loaded: LoadedConfig, fqdn: string) => Promise<DnsShowResult>,
  opts: { dryRun?: boolean } = {},
  factory: ClientFactory = createDnsClient,
): Promise<DnsAdoptResult> {
  const name = normalizeName(fqdn, loaded.config.dns.zone, "NAME");
  const vmid = claimantOf(loaded, name);
  const before = await show(loaded, name);
  const client = factory({ dns: loaded.config.dns, tsigSecret: loaded.secrets.tsig });
  const result = await client.adoptName(name, {
    vmid,
    ttl: loaded.config.dns.ttl,
    ...(opts.dryRun ? { dryRun: true } : {}),
  });
  const exitCode = result.status === "refused" ? ExitCode.invalid : ExitCode.ok;
  return {
    ok: exitCode === ExitCode.ok,
    exitCode,
    vmid,
    before,
    result,
    ...(opts.dryRun ? { dryRun: true } : {}),
  };
}

function adoptLine(r: DnsAdoptResult): string {
  const o = r.result;
  switch (o.status) {
    case "adopted":
      return r.dryRun
        ? `${o.name}: would add TXT "${o.txt}" at ${o.master} (VM ${r.vmid}); nothing else changes; nothing sent`
        : `${o.name}: adopted for VM ${r.vmid}: added TXT "${o.txt}" at ${o.master}; nothing else changed`;
    case "unchanged":
      return `${o.name}: ${o.reason}, nothing to do`;
    case "absent":
      return `${o.name}: does not exist at ${o.master}, nothing to adopt (reconcile creates it for VM ${r.vmid})`;
    case "refused":
      return `${o.name}: not adopted: ${o.reason}`;
  }
}

export function formatAdopt(r: DnsAdoptResult): string {
  return [formatShow(r.before), adoptLine(r)].join("\n");
}
