import type { LoadedConfig } from "../../lib/config/load.ts";
import type { AdoptResult } from "../../lib/dns/adopt.ts";
import { adoptClaim, fileClaim, notesOffEverywhere, notesPolicyRefusal } from "../../lib/dns/adopt-claim.ts";
import { type Claim, normalizeName } from "../../lib/dns/changes.ts";
import type { ClaimRecord } from "../../lib/dns/claims.ts";
import { createDnsClient } from "../../lib/dns/client.ts";
import { ExitCode, InputError } from "../../lib/errors.ts";
import { localNodeName } from "../../lib/node-name.ts";
import { claimsOf } from "../../lib/orchestrate/name-claims.ts";
import { observe } from "../../lib/orchestrate/observe.ts";
import { createRuntime } from "../../lib/orchestrate/runtime.ts";
import type { ClientFactory } from "./dns.ts";
import { type DnsShowResult, formatShow } from "./dns-format.ts";

// `dns adopt NAME`: shows what the masters hold for a name the config gives
// to a VM, then adds our ownership TXT naming that VM (lib/dns/adopt.ts).
// The VM is the one the config file gives the name to or, failing that, the
// one whose Notes claim it as the reconcile reads them (lib/dns/adopt-claim.ts);
// a name the Notes policy cannot allow is refused before anything is asked.

export interface DnsAdoptResult {
  ok: boolean;
  exitCode: ExitCode;
  vmid: number;
  /** What every master held before (dns show). */
  before: DnsShowResult;
  result: AdoptResult;
  dryRun?: true;
}

/** Every name's claimant in the config with the guests' Notes merged, and the registry of names we wrote. */
export interface MergedClaims {
  claims: ReadonlyMap<string, Claim>;
  registry: ReadonlyMap<string, ClaimRecord>;
}

/** What the reconcile sees: one cluster read, the Notes merged by observe (read-only, no lock). */
export async function clusterClaims(loaded: LoadedConfig): Promise<MergedClaims> {
  const here = localNodeName();
  const node = loaded.config.nodes[here] ? here : Object.keys(loaded.config.nodes)[0]!;
  const rt = createRuntime(loaded, { node });
  const world = await observe(rt);
  return { claims: claimsOf(world.config), registry: (await rt.state.claimedNames.read()) ?? new Map() };
}

/** The claim `dns adopt` labels `name` for; InputError (nothing asked of the masters) when there is none. */
export async function claimantOf(
  loaded: LoadedConfig,
  name: string,
  readClaims: (loaded: LoadedConfig) => Promise<MergedClaims>,
): Promise<Claim> {
  const file = fileClaim(loaded.config, name);
  if (file) return file;
  if (notesOffEverywhere(loaded.config))
    throw new InputError(`NAME: no VM in the config claims ${name} (list it under a VM's dns: first)`);
  const policy = notesPolicyRefusal(loaded.config, name);
  if (policy)
    throw new InputError(
      `NAME: no VM in the config claims ${name}, and no VM's Notes may claim it: ${policy}`,
    );
  const { claims, registry } = await readClaims(loaded);
  const found = adoptClaim(claims, registry, name);
  if ("refusal" in found) throw new InputError(`NAME: ${found.refusal}`);
  return found.claim;
}

export async function dnsAdopt(
  loaded: LoadedConfig,
  fqdn: string,
  show: (loaded: LoadedConfig, fqdn: string) => Promise<DnsShowResult>,
  opts: { dryRun?: boolean } = {},
  factory: ClientFactory = createDnsClient,
  readClaims: (loaded: LoadedConfig) => Promise<MergedClaims> = clusterClaims,
): Promise<DnsAdoptResult> {
  const name = normalizeName(fqdn, loaded.config.dns.zone, "NAME");
  const { vmid, origin } = await claimantOf(loaded, name, readClaims);
  const before = await show(loaded, name);
  const client = factory({ dns: loaded.config.dns, tsigSecret: loaded.secrets.tsig });
  const result = await client.adoptName(name, {
    vmid,
    origin,
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
