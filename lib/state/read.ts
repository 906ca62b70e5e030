// Reading what state files and directories hold, forgiving what a crash or another version may leave.

import { readdir } from "node:fs/promises";
import { errnoCode } from "./lock-common.ts";

/** The names in a state directory; none when it does not exist yet (nothing was ever recorded). */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return [];
    throw err;
  }
}

/** A JSON object read back from a state file; undefined for anything else (empty, truncated, foreign). */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  return raw && typeof raw === "object" && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
}
