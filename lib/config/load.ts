import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { z } from "zod";
import { InputError } from "../errors.ts";
import { readConfigCache, writeConfigCache } from "./cache.ts";
import { crossCheck } from "./cross-check.ts";
import { duplicateJsonKeys, protoKeyProblems } from "./keys.ts";
import { formatPath, formatProblem, normalize, relativeToConfig } from "./normalize.ts";
import { configPath } from "./path.ts";
import { configSchema, parseVmLeniently, type RawVm, vmSchema } from "./schema.ts";
import { loadSecrets, type Secrets } from "./secrets.ts";
import type { Config, Problem } from "./types.ts";

export interface LoadedConfig {
  config: Config;
  secrets: Secrets;
}

/** Every problem of a config, each one line naming its field. Exit code 1. */
export class ConfigError extends InputError {
  override name = "ConfigError";
  constructor(
    readonly source: string,
    readonly problems: Problem[],
  ) {
    super(`${source}: ${problems.length} problem(s)\n${problems.map(formatProblem).join("\n")}`);
  }
}

export { configPath };

/**
 * pmxcfs refuses to hold a file over 1 MiB (pve-cluster src/pmxcfs/memdb.h
 * MEMDB_MAX_FILE_SIZE, enforced by memdb.c memdb_pwrite with EFBIG): a bigger
 * config could never be the cluster's shared /etc/pve file.
 */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * YAML is a superset of JSON, but JSON files get JSON's stricter parser and
 * error positions. The YAML parser refuses duplicate keys itself (checked in
 * linear time, yaml.ts); for JSON a linear scan does (keys.ts); "__proto__"
 * is refused in both.
 */
export async function parseConfigText(text: string, file: string): Promise<unknown> {
  // The YAML parsers load only when a file is parsed: a run with the cache valid never needs them.
  const { parseYamlLinear } = await import("./yaml.ts");
  let raw: unknown;
  try {
    raw = file.endsWith(".json") ? JSON.parse(text) : parseYamlLinear(text);
  } catch (err) {
    const message = `not valid YAML/JSON: ${(err as Error).message.split("\n")[0]}`;
    throw new ConfigError(file, [{ path: "(file)", message }]);
  }
  const problems = [...(file.endsWith(".json") ? duplicateJsonKeys(text) : []), ...protoKeyProblems(raw)];
  if (problems.length) throw new ConfigError(file, problems);
  return raw;
}

/**
 * Pure part: raw document -> Config plus every problem found (schema +
 * cross-field). `config` is present whenever the schema passed, so secret
 * files can still be checked; it is only usable when `problems` is empty.
 */
export function validateConfig(raw: unknown, source: string): { config?: Config; problems: Problem[] } {
  const problems: Problem[] = [];
  const issues = (prefix: PropertyKey[], list: z.core.$ZodIssue[]) =>
    problems.push(...list.map((i) => ({ path: formatPath([...prefix, ...i.path]), message: i.message })));
  const parsed = configSchema.safeParse(raw ?? {});
  if (!parsed.success) issues([], parsed.error.issues);
  const vms: Record<string, RawVm> = {};
  // VM blocks are checked even when the rest of the document is broken.
  const rawVms = parsed.success ? parsed.data.vms : (raw as { vms?: unknown } | null)?.vms;
  const blocks = rawVms && typeof rawVms === "object" && !Array.isArray(rawVms) ? rawVms : {};
  for (const [vmid, block] of Object.entries(blocks)) {
    const vm = vmSchema.safeParse(block);
    if (vm.success) vms[vmid] = vm.data;
    else {
      issues(["vms", vmid], vm.error.issues);
      vms[vmid] = parseVmLeniently(block);
    }
  }
  if (!parsed.success) return { problems };
  const config = normalize({ ...parsed.data, vms }, source);
  problems.push(...crossCheck(config));
  return { config, problems };
}

/** Reads, validates and loads secrets; throws ConfigError listing every problem. `cacheDir`: where the config cache lives (the demo keeps it in its temp dir). */
export async function loadConfig(flagPath?: string, opts: { cacheDir?: string } = {}): Promise<LoadedConfig> {
  // Absolute, so config.source still names the file when passed to another
  // node's CLI (remote --config) or a worker running in another directory.
  const file = resolve(configPath(flagPath));
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(file, [
      {
        path: "--config",
        message: `${file} ${code === "ENOENT" ? "does not exist" : `cannot be read (${code})`}`,
      },
    ]);
  }
  if (bytes.length > MAX_CONFIG_BYTES) {
    throw new ConfigError(file, [
      {
        path: "--config",
        message: `${file} is ${bytes.length} bytes; pmxcfs (/etc/pve) holds at most 1 MiB (${MAX_CONFIG_BYTES} bytes) per file`,
      },
    ]);
  }
  const text = bytes.toString("utf8");
  // The timer's steady run, with the file unchanged since the last load: the
  // normalized config validated from these same bytes (cache.ts), no parse.
  const cached = await readConfigCache(file, text, opts.cacheDir);
  if (cached) return withSecrets(cached, file);
  const raw = await parseConfigText(text, file);
  const { config, problems } = validateConfig(raw, file);
  // Secret files are checked even when other fields are wrong: all problems at once.
  const secretProblems: Problem[] = [];
  let secrets: Secrets | undefined;
  if (config) {
    const loaded = await loadSecrets(config);
    secretProblems.push(...loaded.problems);
    secrets = loaded.secrets;
  } else {
    secretProblems.push(...(await secretProblemsOf(raw, file)));
  }
  const all = [...problems, ...secretProblems];
  if (all.length || !config || !secrets) throw new ConfigError(file, all);
  await writeConfigCache(config, text, opts.cacheDir);
  return { config, secrets };
}

/** A cached (already validated) config with its secrets, or every secret file's problem. */
async function withSecrets(config: Config, file: string): Promise<LoadedConfig> {
  const { secrets, problems } = await loadSecrets(config);
  if (problems.length || !secrets) throw new ConfigError(file, problems);
  return { config, secrets };
}

/** Best effort on an invalid document: still report unreadable secret files. */
async function secretProblemsOf(raw: unknown, source: string): Promise<Problem[]> {
  const doc = (raw ?? {}) as {
    proxmox?: { tokenSecretFile?: unknown };
    dns?: { tsig?: { secretFile?: unknown } };
    pveRoot?: unknown;
  };
  const tokenFile = doc.proxmox?.tokenSecretFile;
  const tsigFile = doc.dns?.tsig?.secretFile;
  if (typeof tokenFile !== "string" || typeof tsigFile !== "string") return [];
  const rel = (f: string) => relativeToConfig(source, f);
  const pveRoot = rel(typeof doc.pveRoot === "string" ? doc.pveRoot : "/etc/pve");
  const fake = {
    proxmox: { tokenSecretFile: rel(tokenFile) },
    dns: { tsig: { secretFile: rel(tsigFile) } },
    pveRoot,
  } as Config;
  return (await loadSecrets(fake)).problems;
}
