import { createHash } from "node:crypto";
import { readFile, rename, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { makeDirs } from "../state/make-dirs.ts";
import type { Config } from "./types.ts";

// The hook's cold start: validating the config (zod) costs more than starting
// Node itself, and the hook runs while a VM start or a live migration waits.
// Every full load leaves the normalized config here, keyed by the SHA-256 of
// the file's bytes; the hook uses it while the file is unchanged and falls
// back to the full load otherwise. Secrets are not cached (they are read from
// their files when needed). Root only: the hook runs as root, so the cache
// lives in a root-owned directory no one else can write to.

/** $PVEMIGRATE_DNS_CACHE_DIR lets tests keep the cache in their own temp dir. */
export const CONFIG_CACHE_DIR = process.env.PVEMIGRATE_DNS_CACHE_DIR || "/run/pvemigrate-dns";

// Bumped whenever Config gains or changes a field, or validation or path
// resolution changes: an entry written by an older version (after an upgrade
// without reboot) is then never used. 4: bounded durations, validated
// sshHost, every path relative to the config file.
const FORMAT = 4;

interface CacheEntry {
  format: number;
  sha256: string;
  config: Config;
}

// Keyed by the absolute path: relative file references inside were resolved against it.
const cacheFile = (dir: string, source: string) =>
  join(dir, `config-${createHash("sha256").update(resolve(source)).digest("hex").slice(0, 16)}.json`);

export function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

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
    const entry = JSON.parse(await readFile(file, "utf8")) as CacheEntry;
    const same =
      entry.format === FORMAT &&
      entry.sha256 === digest(text) &&
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
    const file = cacheFile(dir, config.source);
    const temp = `${file}.${process.pid}.tmp`;
    await writeFile(
      temp,
      JSON.stringify({ format: FORMAT, sha256: digest(text), config } satisfies CacheEntry),
      {
        mode: 0o600,
      },
    );
    await rename(temp, file);
  } catch {}
}
