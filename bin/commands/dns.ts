import type { Command } from "commander";
import type { LoadedConfig } from "../../lib/config/load.ts";
import { normalizeName } from "../../lib/dns/changes.ts";
import {
  createDnsClient,
  type DeleteResult,
  type DnsClient,
  type DnsClientOptions,
} from "../../lib/dns/client.ts";
import { divergence } from "../../lib/dns/divergence.ts";
import { DnsAllMastersFailed, masterLabel } from "../../lib/dns/errors.ts";
import { managedBy, previewDelete } from "../../lib/dns/preview.ts";
import { ExitCode, messageOf } from "../../lib/errors.ts";
import type { GlobalOptions } from "./common.ts";
import { dnsAdopt, formatAdopt } from "./dns-adopt.ts";
import {
  type DnsDeleteResult,
  type DnsShowResult,
  formatDelete,
  formatSet,
  formatShow,
  type MasterView,
  serverViews,
} from "./dns-format.ts";
import { CONFIG_OPTION, nameCommand, type Output, runCommand, stdio } from "./dns-run.ts";
import { dnsSet, outcomeExit } from "./dns-set.ts";

// `dns set|show|delete`. The command functions take the loaded config and
// plain arguments and return plain result objects (tested directly); the
// register function only parses argv, prints text or JSON and sets the exit
// code. Nothing printed here can contain the TSIG secret: results never hold it.

export { type DnsSetArgs, dnsSet } from "./dns-set.ts";

export type ClientFactory = (opts: DnsClientOptions) => DnsClient;

export function clientFor(loaded: LoadedConfig, factory: ClientFactory = createDnsClient): DnsClient {
  return factory({ dns: loaded.config.dns, tsigSecret: loaded.secrets.tsig });
}

/** The name's records at every master candidate, asked in parallel, side by side. */
export async function dnsShow(
  loaded: LoadedConfig,
  fqdn: string,
  factory?: ClientFactory,
): Promise<DnsShowResult> {
  const name = normalizeName(fqdn, loaded.config.dns.zone, "FQDN");
  const client = clientFor(loaded, factory);
  const masters = await Promise.all(
    loaded.config.dns.masters.map(async (m): Promise<MasterView> => {
      const label = masterLabel(m);
      try {
        const [records, soa] = await Promise.all([client.query(name, m), client.querySoa(m)]);
        const { exists, a, aaaa, txt, owned } = records;
        return { master: label, ok: true, exists, a, aaaa, txt, owned, serial: soa.serial };
      } catch (err) {
        const reason =
          err instanceof DnsAllMastersFailed ? (err.failures[0]?.reason ?? err.message) : messageOf(err);
        return { master: label, ok: false, error: reason };
      }
    }),
  );
  const ok = masters.every((m) => m.ok);
  const answered = masters.filter((m) => m.ok);
  const answer = (m: MasterView) => ({ a: m.a ?? [], aaaa: m.aaaa ?? [] });
  const diverging = divergence(
    answered.map((m) => ({
      master: m.master,
      answer: answer(m),
      ...(m.serial !== undefined ? { serial: m.serial } : {}),
    })),
  );
  // The other servers clients may ask (dns.propagation), against the first master's answer.
  const first = answered[0];
  const p = first
    ? await client.checkPropagation([{ name, expected: answer(first) }]).catch(() => undefined)
    : undefined;
  const servers = serverViews(p, new Set(masters.map((m) => m.master)));
  const skipped = (p?.skipped ?? []).map((k) => `${k.address}: ${k.reason}`);
  return {
    ok,
    exitCode: ok ? ExitCode.ok : ExitCode.peer,
    name,
    masters,
    divergence: diverging,
    servers,
    skipped,
  };
}

export async function dnsDelete(
  loaded: LoadedConfig,
  fqdn: string,
  factory?: ClientFactory,
  opts: { dryRun?: boolean } = {},
): Promise<DnsDeleteResult> {
  const name = normalizeName(fqdn, loaded.config.dns.zone, "FQDN");
  const client = clientFor(loaded, factory);
  let vm = managedBy(name, loaded.config.vms);
  let result: DeleteResult;
  if (opts.dryRun) {
    const state = await client.query(name);
    result = previewDelete(name, state.master, state);
    vm ??= managedBy(name, {}, { state, ownerId: loaded.config.dns.ownerId });
  } else result = await client.deleteName(name);
  const exitCode = outcomeExit(result);
  return {
    ok: exitCode === ExitCode.ok,
    exitCode,
    result,
    ...(opts.dryRun ? { dryRun: true as const } : {}),
    ...(vm ? { warning: `${vm}: the next reconcile will write it again` } : {}),
  };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerDnsCommands(
  program: Command,
  load: (path?: string) => Promise<LoadedConfig>,
  factory?: ClientFactory,
  io: Output = stdio,
): void {
  const dns = program
    .command("dns")
    .description("read and write DNS names at the master candidates (RFC 2136 + TSIG)");

  dns
    .command("set")
    .description(
      "point FQDN at ADDRESS(es): all its A/AAAA records are replaced (compare-and-swap, owned names only)",
    )
    .argument("<fqdn>", "name inside dns.zone")
    .argument("<address...>", "IPv4/IPv6 addresses")
    .option("--ttl <seconds>", "TTL (default: dns.ttl)")
    .option("--expect <old>", 'the address(es) it holds now (repeatable); "none" = must not exist', collect)
    .option("--dry-run", "read the name and say what would happen; send nothing")
    .option("--config <file>", CONFIG_OPTION)
    .option("--json", "machine-readable output")
    .action(async (fqdn: string, addresses: string[], _opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<
        GlobalOptions & { ttl?: string; expect?: string[]; dryRun?: boolean }
      >();
      await runCommand(
        opts.json,
        io,
        async () =>
          dnsSet(
            await load(opts.config),
            {
              fqdn,
              addresses,
              ...(opts.ttl !== undefined ? { ttl: opts.ttl } : {}),
              ...(opts.expect ? { expect: opts.expect } : {}),
              ...(opts.dryRun ? { dryRun: true } : {}),
            },
            factory,
          ),
        formatSet,
      );
    });

  // show prints its table even when some masters failed: the failures are rows.
  nameCommand(dns, { out: io.out, err: io.out }, load, {
    name: "show",
    description: "the name's A/AAAA/TXT and the zone serial at every master candidate, side by side",
    argument: ["<fqdn>", "name inside dns.zone"],
    run: (loaded, fqdn) => dnsShow(loaded, fqdn, factory),
    format: formatShow,
  });

  nameCommand(dns, io, load, {
    name: "adopt",
    description:
      "show a name the config gives to a VM, then add our ownership TXT naming that VM (A/AAAA and the rest untouched)",
    argument: ["<name>", "name inside dns.zone a VM claims (config file, or Notes the policy allows)"],
    dryRun: "show the name and what would be added; send nothing",
    run: (loaded, fqdn, opts) => dnsAdopt(loaded, fqdn, (l, n) => dnsShow(l, n, factory), opts, factory),
    format: formatAdopt,
  });

  nameCommand(dns, io, load, {
    name: "delete",
    description: "remove every record of FQDN, only if it carries our ownership TXT",
    argument: ["<fqdn>", "name inside dns.zone"],
    dryRun: "read the name and say what would happen; send nothing",
    run: (loaded, fqdn, opts) => dnsDelete(loaded, fqdn, factory, opts),
    format: formatDelete,
  });
}
