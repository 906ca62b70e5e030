import { readFile, rename, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { makeDirs } from "../state/make-dirs.ts";
import type { Config } from "./types.ts";

// The hook's and the CLI's cold start: validating the config (zod, yaml)
// costs more than starting Node itself, and the hook runs while a VM start or
// a live migration waits. Every full load leaves the normalized config here
// with the exact text it came from; a reader uses it while the file holds
// that same text and falls back to the full load otherwise. Comparing the text
// itself (not a digest) keeps node:crypto, ~5 ms to load, off the hook's path.
// Secrets are not cached (they are read from their files when needed). Root
// only: the hook runs as root, so the cache lives in a root-owned directory no
// one else can write to.

/** $PVEMIGRATE_DNS_CACHE_DIR lets tests and benchmarks keep the cache in their own temp dir. */
export const CONFIG_CACHE_DIR = process.env.PVEMIGRATE_DNS_CACHE_DIR || "/run/pvemigrate-dns";

// Bumped whenever Config gains or changes a field, or validation or path
// resolution changes: an entry written by an older version (after an upgrade
// without reboot) is then never used. 4: bounded durations, validated
// sshHost, every path relative to the config file. 5: the text itself, no digest.
const FORMAT = 5;

interface CacheEntry {
  format: number;
  source: string;
  text: string;
  config: Config;
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

// Keyed by the absolute path: relative file references inside were resolved against it.
const cacheFile = (dir: string, source: string) => join(dir, `config-${nameOf(resolve(source))}.json`);

function usable(): boolean {
  return process.getuid?.() === 0;
}

/** The cached normalized config for `source` whose bytes are `text`, if still valid. */
export async function readConfigCache(
  source: string,
  text: string,
  dir = CONFIG_CACHE_DIR,
): Promise<Config | undefined> {
  if (!usable()) return undefined;
  try {
    const file = cacheFile(dir, source);
    const [st, dirSt] = await Promise.all([stat(file), stat(dir)]);
    // Trust only what root wrote where only root can write.
    if (st.uid !== 0 || dirSt.uid !== 0 || (st.mode & 0o022) !== 0 || (dirSt.mode & 0o022) !== 0)
      return undefined;
    // Root wrote it (checked above), from a validated Config: no schema needed to read it back.
    const entry = JSON.parse(await readFile(file, "utf8")) as CacheEntry;
    const same =
      entry.format === FORMAT &&
      entry.text === text &&
      entry.source === resolve(source) &&
      resolve(entry.config?.source ?? "") === resolve(source);
    return same ? entry.config : undefined;
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
    const file = cacheFile(dir, source);
    const temp = `${file}.${process.pid}.tmp`;
    const entry: CacheEntry = { format: FORMAT, source, text, config };
    await writeFile(temp, JSON.stringify(entry), { mode: 0o600 });
    await rename(temp, file);
  } catch {}
}
