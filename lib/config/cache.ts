import { readFileSync, statSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { makeDirs } from "../state/make-dirs.ts";
import type { Config } from "./types.ts";

// The hook's and the CLI's cold start: validating the config (zod, yaml)
// costs more than starting Node itself, and the hook runs while a VM start or
// a live migration waits; at 10,000 guests the yaml parse alone takes seconds
// and a few hundred MiB of garbage. Every full load leaves the normalized
// config here with the exact text it came from; a reader uses it while the
// file holds that same text and falls back to the full load otherwise.
// Secrets are not cached (they are read from their files when needed). Root
// only: the hook runs as root, so the cache lives in a root-owned directory no
// one else can write to.
//
// The entry is one JSON header line, then the file's bytes as they are, then
// the config as JSON. The text is compared byte for byte (Buffer.equals, a
// memcmp: ~0.1 ms for 1 MiB), not through a digest (node:crypto costs ~5 ms
// to load on the hook's path, and a fast non-cryptographic hash can be made
// to collide) and not as a JSON string (format 5: parsing 1 MiB of escaped
// text back, and writing it again on every load, cost more than the compare).

/** $PVEMIGRATE_DNS_CACHE_DIR lets tests and benchmarks keep the cache in their own temp dir. */
export const CONFIG_CACHE_DIR = process.env.PVEMIGRATE_DNS_CACHE_DIR || "/run/pvemigrate-dns";

// Bumped whenever Config gains or changes a field, or validation or path
// resolution changes: an entry written by an older version (after an upgrade
// without reboot) is then never used. 4: bounded durations, validated
// sshHost, every path relative to the config file. 5: the text itself, no
// digest. 6: header line, raw text, config JSON.
const FORMAT = 6;

interface CacheHeader {
  format: number;
  source: string;
  /** Byte length of the text that follows the header line. */
  textBytes: number;
}

/** FNV-1a (32 bit) of the absolute path: only names the entry; the entry's `source` is what counts. */
function nameOf(source: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < source.length; i++) {
    h ^= source.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/** The entry for `source`, keyed by its absolute path: relative file references inside were resolved against it. */
export const configCacheFile = (source: string, dir = CONFIG_CACHE_DIR) =>
  join(dir, `config-${nameOf(resolve(source))}.json`);

function usable(): boolean {
  return process.getuid?.() === 0;
}

/** The cached normalized config for `source` whose bytes are `text`, if still valid. */
export async function readConfigCache(
  source: string,
  text: string,
  dir = CONFIG_CACHE_DIR,
): Promise<Config | undefined> {
  return readConfigCacheSync(source, text, dir);
}

/**
 * readConfigCache for the hookscript: two stats and one read of a local file,
 * made synchronously (no thread pool to start, no fs/promises to load).
 */
export function readConfigCacheSync(
  source: string,
  text: string,
  dir = CONFIG_CACHE_DIR,
): Config | undefined {
  if (!usable()) return undefined;
  try {
    const file = configCacheFile(source, dir);
    const st = statSync(file);
    const dirSt = statSync(dir);
    // Trust only what root wrote where only root can write.
    if (st.uid !== 0 || dirSt.uid !== 0 || (st.mode & 0o022) !== 0 || (dirSt.mode & 0o022) !== 0)
      return undefined;
    const textBytes = Buffer.from(text, "utf8");
    // A different size cannot hold the same text: no need to read the entry.
    if (st.size < textBytes.length) return undefined;
    const entry = readFileSync(file);
    const newline = entry.indexOf(0x0a);
    if (newline < 0) return undefined;
    // Root wrote it (checked above), from a validated Config: no schema needed to read it back.
    const header = JSON.parse(entry.toString("utf8", 0, newline)) as CacheHeader;
    const start = newline + 1;
    const end = start + textBytes.length;
    const same =
      header.format === FORMAT &&
      header.source === resolve(source) &&
      header.textBytes === textBytes.length &&
      entry.subarray(start, end).equals(textBytes);
    if (!same) return undefined;
    const config = JSON.parse(entry.toString("utf8", end)) as Config;
    return resolve(config.source ?? "") === resolve(source) ? config : undefined;
  } catch {
    return undefined;
  }
}

/** Best effort: a cache that cannot be written only costs the next hook some milliseconds. */
export async function writeConfigCache(config: Config, text: string, dir = CONFIG_CACHE_DIR): Promise<void> {
  if (!usable()) return;
  try {
    await makeDirs(dir, { mode: 0o700 });
    const source = resolve(config.source);
    const file = configCacheFile(source, dir);
    const temp = `${file}.${process.pid}.tmp`;
    const header: CacheHeader = { format: FORMAT, source, textBytes: Buffer.byteLength(text, "utf8") };
    await writeFile(temp, `${JSON.stringify(header)}\n${text}${JSON.stringify(config)}`, { mode: 0o600 });
    await rename(temp, file);
  } catch {}
}
