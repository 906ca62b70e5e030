import type { Command } from "commander";
import type { LoadedConfig } from "../../lib/config/load.ts";
import { ipv4Mapped } from "../../lib/config/values.ts";
import {
  type Addresses,
  type NameWrite,
  normalizeAddresses,
  normalizeName,
  ownershipTxt,
  sectionsFor,
} from "../../lib/dns/changes.ts";
import {
  createDnsClient,
  type DeleteResult,
  type DnsClient,
  type DnsClientOptions,
  type NameOutcome,
} from "../../lib/dns/client.ts";
import { DnsAllMastersFailed, masterLabel } from "../../lib/dns/errors.ts";
import { tsigKeyFrom } from "../../lib/dns/key.ts";
import { encodeName } from "../../lib/dns/wire/codec.ts";
import { signMessage } from "../../lib/dns/wire/tsig.ts";
import { encodeUpdate } from "../../lib/dns/wire/update.ts";
import { ExitCode, exitCodeOf, InputError, messageOf } from "../../lib/errors.ts";
import { type GlobalOptions, printJson } from "./common.ts";

// `dns set|show|delete`. The command functions take the loaded config and
// plain arguments and return plain result objects (tested directly); the
// register function only parses argv, prints text or JSON and sets the exit
// code. Nothing printed here can contain the TSIG secret: results never hold it.

export type ClientFactory = (opts: DnsClientOptions) => DnsClient;

export interface DnsSetArgs {
  fqdn: string;
  addresses: string[];
  ttl?: string | number;
  /** Addresses the name is expected to hold now; ["none"] = the name must not exist yet. */
  expect?: string[];
}

export interface DnsSetResult {
  ok: boolean;
  exitCode: ExitCode;
  outcome: NameOutcome;
  acceptedBy: string[];
}

function clientFor(loaded: LoadedConfig, factory: ClientFactory = createDnsClient): DnsClient {
  return factory({ dns: loaded.config.dns, tsigSecret: loaded.secrets.tsig });
}

function parseTtl(ttl: string | number | undefined): number | undefined {
  if (ttl === undefined) return undefined;
  const n = typeof ttl === "number" ? ttl : /^\d+$/.test(ttl) ? Number(ttl) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n > 2_147_483_647) {
    throw new InputError(`--ttl: "${ttl}" is not a TTL in seconds (0..2147483647)`);
  }
  return n;
}

/**
 * Addresses given on the command line. An IPv4-mapped IPv6 address
 * (`::ffff:192.0.2.1`) is refused: written as AAAA it would replace the
 * name's A record with an address no client reaches over IPv6.
 */
function parseAddresses(values: readonly string[], argument: string): Addresses {
  for (const value of values) {
    const v4 = ipv4Mapped(value.trim());
    if (v4) {
      throw new InputError(
        `${argument}: "${value}" is the IPv4 address ${v4} written as IPv6 (IPv4-mapped); give ${v4} for an A record`,
      );
    }
  }
  return normalizeAddresses(values, argument);
}

/** A DNS message over TCP carries a 16-bit length (RFC 1035 4.2.2): no UPDATE can be larger. */
export const MAX_MESSAGE_BYTES = 65_535;

/**
 * Refuses a `dns set` whose one UPDATE message (compare-and-swap
 * prerequisites, the adds, the TSIG record) would exceed MAX_MESSAGE_BYTES,
 * measured with the same encoders the client sends with. The form that needs
 * more bytes (create or replace) is measured, so a check that passes holds
 * whatever the master holds now.
 */
function checkFitsOneMessage(
  loaded: LoadedConfig,
  name: string,
  desired: Addresses,
  expect: Addresses | undefined,
  ttl: number,
): void {
  const { dns } = loaded.config;
  const txt = ownershipTxt(dns.ownerId);
  const forms: NameWrite["form"][] = [
    { kind: "create" },
    { kind: "replace", expect: expect ?? { a: [], aaaa: [] }, txt: [txt] },
  ];
  const key = tsigKeyFrom(dns.tsig, loaded.secrets.tsig);
  const bytes = Math.max(
    ...forms.map((form) => {
      const message = encodeUpdate({
        id: 0,
        zone: dns.zone,
        ...sectionsFor({ name, desired, form }, ttl, txt),
      });
      return signMessage(message, key, 0).message.length;
    }),
  );
  if (bytes <= MAX_MESSAGE_BYTES) return;
  // One A record: owner name, type, class, TTL, RDLENGTH, 4 address bytes.
  const perA = encodeName(name).length + 14;
  const count = desired.a.length + desired.aaaa.length;
  const room = MAX_MESSAGE_BYTES - (bytes - desired.a.length * perA - desired.aaaa.length * (perA + 12));
  throw new InputError(
    `ADDRESS: ${count} addresses need a ${bytes}-byte DNS message, over the ${MAX_MESSAGE_BYTES} bytes one message holds (${Math.max(0, Math.floor(room / perA))} IPv4 addresses fit for ${name})`,
  );
}

function parseExpect(expect: string[] | undefined): Addresses | undefined {
  if (expect === undefined) return undefined;
  const values = expect
    .flatMap((e) => e.split(","))
    .map((e) => e.trim())
    .filter((e) => e !== "");
  if (values.length === 1 && values[0] === "none") return { a: [], aaaa: [] };
  if (values.length === 0) throw new InputError('--expect: give the current address(es), or "none"');
  return parseAddresses(values, "--expect");
}

/** Outcomes that changed nothing because the name is not ours or not as expected: exit 1. */
function outcomeExit(o: NameOutcome | DeleteResult): ExitCode {
  return o.status === "stale" || o.status === "not-owned" || o.status === "refused"
    ? ExitCode.invalid
    : ExitCode.ok;
}

export async function dnsSet(
  loaded: LoadedConfig,
  args: DnsSetArgs,
  factory?: ClientFactory,
): Promise<DnsSetResult> {
  // All argument checks before any packet is sent.
  const zone = loaded.config.dns.zone;
  const name = normalizeName(args.fqdn, zone, "FQDN");
  if (args.addresses.length === 0) throw new InputError("ADDRESS: give at least one address");
  const desired = parseAddresses(args.addresses, "ADDRESS");
  const ttl = parseTtl(args.ttl);
  const expect = parseExpect(args.expect);
  checkFitsOneMessage(loaded, name, desired, expect, ttl ?? loaded.config.dns.ttl);
  const result = await clientFor(loaded, factory).setAddresses(
    [{ name, ...desired, ...(expect ? { expect } : {}) }],
    ttl === undefined ? {} : { ttl },
  );
  const outcome = result.outcomes[0] as NameOutcome;
  const exitCode = outcomeExit(outcome);
  return { ok: exitCode === ExitCode.ok, exitCode, outcome, acceptedBy: result.acceptedBy };
}

export interface MasterView {
  master: string;
  ok: boolean;
  error?: string;
  exists?: boolean;
  a?: string[];
  aaaa?: string[];
  txt?: string[];
  owned?: boolean;
  serial?: number;
}

export interface DnsShowResult {
  ok: boolean;
  exitCode: ExitCode;
  name: string;
  masters: MasterView[];
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
  return { ok, exitCode: ok ? ExitCode.ok : ExitCode.peer, name, masters };
}

export interface DnsDeleteResult {
  ok: boolean;
  exitCode: ExitCode;
  result: DeleteResult;
}

export async function dnsDelete(
  loaded: LoadedConfig,
  fqdn: string,
  factory?: ClientFactory,
): Promise<DnsDeleteResult> {
  const name = normalizeName(fqdn, loaded.config.dns.zone, "FQDN");
  const result = await clientFor(loaded, factory).deleteName(name);
  const exitCode = outcomeExit(result);
  return { ok: exitCode === ExitCode.ok, exitCode, result };
}

// ---- text rendering (pure) ----

const list = (a: string[] | undefined) => (a && a.length > 0 ? a.join(" ") : "-");

export function formatSet(r: DnsSetResult): string {
  const o = r.outcome;
  switch (o.status) {
    case "updated":
      return `${o.name}: set to ${list([...o.a, ...o.aaaa])}, accepted by ${o.master}`;
    case "unchanged":
      return `${o.name}: already ${list([...o.a, ...o.aaaa])} at ${o.master}, nothing to do`;
    case "stale":
      return `${o.name}: not changed: it holds ${list([...o.actual.a, ...o.actual.aaaa])}, not the expected ${list([...o.expected.a, ...o.expected.aaaa])} (NXRRSET at ${o.master})`;
    case "not-owned":
      return `${o.name}: not changed: the name exists without our ownership TXT (records: ${list([...o.actual.a, ...o.actual.aaaa, ...o.actual.txt])}); it belongs to someone else`;
    case "refused":
      return `${o.name}: not changed: it ${o.reason}`;
  }
}

export function formatShow(r: DnsShowResult): string {
  const rows = [["MASTER", "SERIAL", "A", "AAAA", "OWNED", "TXT"]];
  for (const m of r.masters) {
    if (!m.ok) rows.push([m.master, "-", `ERROR: ${m.error}`, "", "", ""]);
    else if (!m.exists) rows.push([m.master, String(m.serial), "(no such name)", "", "", ""]);
    else
      rows.push([m.master, String(m.serial), list(m.a), list(m.aaaa), m.owned ? "yes" : "no", list(m.txt)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length)));
  return [
    `${r.name}:`,
    ...rows.map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    ),
  ].join("\n");
}

export function formatDelete(r: DnsDeleteResult): string {
  const d = r.result;
  switch (d.status) {
    case "deleted":
      return `${d.name}: deleted at ${d.master}`;
    case "absent":
      return `${d.name}: does not exist at ${d.master}, nothing to do`;
    case "not-owned":
      return `${d.name}: not deleted: the name exists without our ownership TXT; it belongs to someone else`;
  }
}

// ---- commander wiring ----

interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

const stdio: Output = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
};

/** Runs one command: prints its result or its error (text or JSON) and sets process.exitCode. */
async function runCommand<R extends { exitCode: ExitCode }>(
  json: boolean | undefined,
  io: Output,
  work: () => Promise<R>,
  format: (r: R) => string,
): Promise<void> {
  try {
    const r = await work();
    if (json) printJson(r);
    else (r.exitCode === ExitCode.ok ? io.out : io.err)(format(r));
    process.exitCode = r.exitCode;
  } catch (err) {
    const code = exitCodeOf(err);
    if (json) {
      printJson({
        ok: false,
        exitCode: code,
        error: messageOf(err),
        ...(err instanceof DnsAllMastersFailed ? { failures: err.failures } : {}),
      });
    } else {
      io.err(messageOf(err));
    }
    process.exitCode = code;
  }
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
  const configOption = "config file (default: $PVEMIGRATE_DNS_CONFIG or /etc/pve/pvemigrate-dns.yaml)";

  dns
    .command("set")
    .description(
      "point FQDN at ADDRESS(es): all its A/AAAA records are replaced (compare-and-swap, owned names only)",
    )
    .argument("<fqdn>", "name inside dns.zone")
    .argument("<address...>", "IPv4/IPv6 addresses")
    .option("--ttl <seconds>", "TTL (default: dns.ttl)")
    .option("--expect <old>", 'the address(es) it holds now (repeatable); "none" = must not exist', collect)
    .option("--config <file>", configOption)
    .option("--json", "machine-readable output")
    .action(async (fqdn: string, addresses: string[], _opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions & { ttl?: string; expect?: string[] }>();
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
            },
            factory,
          ),
        formatSet,
      );
    });

  dns
    .command("show")
    .description("the name's A/AAAA/TXT and the zone serial at every master candidate, side by side")
    .argument("<fqdn>", "name inside dns.zone")
    .option("--config <file>", configOption)
    .option("--json", "machine-readable output")
    .action(async (fqdn: string, _opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      // show prints its table even when some masters failed: the failures are rows.
      await runCommand(
        opts.json,
        { out: io.out, err: io.out },
        async () => dnsShow(await load(opts.config), fqdn, factory),
        formatShow,
      );
    });

  dns
    .command("delete")
    .description("remove every record of FQDN, only if it carries our ownership TXT")
    .argument("<fqdn>", "name inside dns.zone")
    .option("--config <file>", configOption)
    .option("--json", "machine-readable output")
    .action(async (fqdn: string, _opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      await runCommand(
        opts.json,
        io,
        async () => dnsDelete(await load(opts.config), fqdn, factory),
        formatDelete,
      );
    });
}
