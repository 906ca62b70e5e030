// Reading what state files and directories hold, forgiving what a crash or another version may leave.

import { readdir } from "node:fs/promises";
import { errnoCode } from "../errors.ts";

/** The names in a state directory; none when it does not exist yet (nothing was ever recorded). */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return [];
    throw err;
  }
}

/**
 * A state file's text parsed as JSON, or what is wrong with it in words that
 * quote none of it: Node's own message carries a snippet of the input
 * (`Unexpected token 's', ..."{"token": secretvalu"... is not valid JSON`),
 * and a file clobbered by something else may hold anything, a secret included.
 */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false; problem: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    const size = Buffer.byteLength(text);
    if (text.trim() === "") return { ok: false, problem: `not JSON (empty, ${size} bytes)` };
    const message = err instanceof Error ? err.message : "";
    const position = /at position (\d+)/.exec(message)?.[1];
    const where = /end of JSON input/.test(message)
      ? ", cut short"
      : position === undefined
        ? ""
        : `, invalid at character ${position}`;
    return { ok: false, problem: `not JSON (${size} bytes${where})` };
  }
}

/** A JSON object read back from a state file; undefined for anything else (empty, truncated, foreign). */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  const r = parseJson(text);
  if (!r.ok) return undefined;
  const raw = r.value;
  return raw && typeof raw === "object" && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
}
