import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { readConfigCacheSync } from "../lib/config/cache.ts";
import type { LoadedConfig } from "../lib/config/load.ts";
import { configPath } from "../lib/config/path.ts";
import { loadSecretsSync } from "../lib/config/secrets.ts";
import { formatSet } from "./commands/dns-format.ts";
import { runCommand, stdio } from "./commands/dns-run.ts";
import { dnsSet } from "./commands/dns-set.ts";

// `dns set` without the full CLI (issue 16, floor 2: within 2x of `nsupdate -y`
// as a whole process). Node parses a whole bundle before running a line of
// it, and the full CLI is ~1 MB (commander's command tree, zod, yaml, the
// Proxmox client); the config validation alone costs more than the update.
// So the CLI's entry (bin/pvemigrate-dns.ts) tries this first: for the plain
// shapes of `dns set` argv it reads the config from the cache the full load
// leaves (lib/config/cache.ts) and runs the same dnsSet/formatSet/runCommand
// as the full command, so output and exit codes are the same code's. For
// anything else (another command, an option spelled in a way commander would
// read differently or reject, a cache miss, a secret file problem) it returns
// false before printing or sending anything, and the entry hands the whole
// argv to the full CLI, which says what commander or the full load says (and
// a full load refills the cache).

export interface FastDnsSetArgs {
  config?: string;
  fqdn: string;
  addresses: string[];
  ttl?: string;
  expect?: string[];
  dryRun: boolean;
  json: boolean;
}

/** The value of `--name=value` or `--name value`; undefined when it is missing or looks like an option. */
function optionValue(token: string, rest: string[]): string | undefined {
  const eq = token.indexOf("=");
  if (eq !== -1) return token.slice(eq + 1);
  const next = rest.shift();
  return next === undefined || next.startsWith("-") ? undefined : next;
}

/**
 * PURE: argv after `node script` when it is `[--config F] dns set FQDN ADDRESS... [options]`
 * in a shape the full CLI (bin/commands/dns.ts) parses the same way; undefined otherwise.
 * Refused (left to commander): `--`, short or unknown options, a repeated --config or --ttl
 * (commander's precedence between the root's and the subcommand's --config is its own),
 * option values that start with "-", fewer than two positionals, options between `dns` and `set`.
 */
export function parseFastDnsSet(argv: readonly string[]): FastDnsSetArgs | undefined {
  const rest = [...argv];
  let config: string | undefined;
  let configs = 0;
  while (rest[0]?.startsWith("-")) {
    const token = rest.shift() as string;
    if (token !== "--config" && !token.startsWith("--config=")) return undefined;
    const value = optionValue(token, rest);
    if (value === undefined) return undefined;
    config = value;
    configs++;
  }
  if (rest.shift() !== "dns" || rest.shift() !== "set") return undefined;
  const positionals: string[] = [];
  let ttl: string | undefined;
  const expect: string[] = [];
  let dryRun = false;
  let json = false;
  while (rest.length > 0) {
    const token = rest.shift() as string;
    if (!token.startsWith("-")) {
      positionals.push(token);
      continue;
    }
    const name = token.split("=", 1)[0];
    if ((token === "--dry-run" || token === "--json") && name === token) {
      if (token === "--dry-run") dryRun = true;
      else json = true;
      continue;
    }
    if (name !== "--config" && name !== "--ttl" && name !== "--expect") return undefined;
    const value = optionValue(token, rest);
    if (value === undefined) return undefined;
    if (name === "--config") {
      config = value;
      configs++;
    } else if (name === "--ttl") {
      if (ttl !== undefined) return undefined;
      ttl = value;
    } else expect.push(value);
  }
  if (configs > 1) return undefined;
  const [fqdn, ...addresses] = positionals;
  if (fqdn === undefined || addresses.length === 0) return undefined;
  return {
    ...(config !== undefined ? { config } : {}),
    fqdn,
    addresses,
    ...(ttl !== undefined ? { ttl } : {}),
    ...(expect.length > 0 ? { expect } : {}),
    dryRun,
    json,
  };
}

/**
 * The config as the full load would give it, from the cache and the secret
 * files; undefined when only the full load can say. Synchronous reads of a
 * few small files: no thread pool to start (4 threads), no fs/promises to load.
 */
function loadCached(flagPath: string | undefined): LoadedConfig | undefined {
  const file = resolve(configPath(flagPath));
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const config = readConfigCacheSync(file, text);
  if (!config) return undefined;
  const { secrets, problems } = loadSecretsSync(config);
  return secrets && problems.length === 0 ? { config, secrets } : undefined;
}

/** Runs `dns set` when argv (process.argv) allows the fast path; false when the full CLI must run it. */
export async function runDnsSetFast(argv: readonly string[]): Promise<boolean> {
  const args = parseFastDnsSet(argv.slice(2));
  if (!args) return false;
  const loaded = loadCached(args.config);
  if (!loaded) return false;
  await runCommand(
    args.json,
    stdio,
    () =>
      dnsSet(loaded, {
        fqdn: args.fqdn,
        addresses: args.addresses,
        ...(args.ttl !== undefined ? { ttl: args.ttl } : {}),
        ...(args.expect ? { expect: args.expect } : {}),
        ...(args.dryRun ? { dryRun: true } : {}),
      }),
    formatSet,
  );
  return true;
}
