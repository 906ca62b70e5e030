import { readFile } from "node:fs/promises";
import { readConfigCache } from "./cache.ts";
import type { LoadedConfig } from "./load.ts";
import { configPath } from "./path.ts";
import type { Config } from "./types.ts";

// The hook's way to the config: the cached normalized config while the file
// is unchanged (no schema library loaded at all), else the full load, which
// refreshes the cache. A file that fails validation throws like loadConfig.

export type FastConfig = { config: Config; loaded?: LoadedConfig };

export async function loadConfigFast(flagPath?: string): Promise<FastConfig> {
  const file = configPath(flagPath);
  const text = await readFile(file, "utf8").catch(() => undefined);
  const cached = text === undefined ? undefined : await readConfigCache(file, text);
  if (cached) return { config: cached };
  const { loadConfig } = await import("./load.ts");
  const loaded = await loadConfig(file);
  return { config: loaded.config, loaded };
}
