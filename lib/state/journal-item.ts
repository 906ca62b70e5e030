import { createRequire } from "node:module";
import { InputError } from "../errors.ts";
import { isoUtc } from "../iso-utc.ts";
import { parseJson } from "./read.ts";

// The record of one piece of pending work, as stored (one JSON file per item)
// and as handed to the orchestrator. Pure: encoding, decoding, validation.

/** One pending item. `payload` is unknown at rest; a JournalKind gives it a type. */
export interface JournalItem<P = unknown> {
  /**
   * Stable key of the intent, e.g. `dns:mail.example.org` or `node:pve1:vm:101`:
   * recording the same id again replaces the older intent (the newest wins).
   */
  id: string;
  kind: string;
  /**
   * Changes with every record(): markDone/markFailed take the item they worked
   * on and leave it alone if a newer intent replaced it meanwhile.
   */
  rev: string;
  /** When this id was first recorded (kept across replacements: how long it has been pending). */
  createdAt: string;
  /** When the current intent was recorded: of two copies of one id, the later one is the newer intent. */
  updatedAt: string;
  /** Failed attempts at the current intent. */
  attempts: number;
  lastError?: string;
  /** When the last failed attempt was recorded. */
  lastAttemptAt?: string;
  payload: P;
}

/** What a caller records: the rest is filled in by the journal. */
export interface JournalEntry<P = unknown> {
  id: string;
  kind: string;
  payload: P;
}

/**
 * PURE: the item that records `entry` in place of `old` (same id): a new
 * revision, the failure count started again, `old`'s createdAt kept.
 */
export function replacementItem<P>(
  entry: JournalEntry<P>,
  old: Pick<JournalItem, "createdAt"> | undefined,
  rev: string,
  nowMs: number,
): JournalItem<P> {
  const now = isoUtc(nowMs);
  return {
    id: entry.id,
    kind: entry.kind,
    rev,
    createdAt: old?.createdAt ?? now,
    updatedAt: now,
    attempts: 0,
    payload: entry.payload,
  };
}

/** Enough of an item to mark it done/failed: its id and the revision that was worked on. */
export type ItemRef = Pick<JournalItem, "id" | "rev">;

/**
 * A kind of journal item with a typed payload. `parse` validates what was read
 * back (throws on a payload this code does not understand, e.g. from a newer
 * version on another node); `idOf` derives the stable id from the payload.
 */
export interface JournalKind<P> {
  readonly name: string;
  idOf(payload: P): string;
  parse(raw: unknown): P;
}

export function defineKind<P>(
  name: string,
  idOf: (payload: P) => string,
  parse: (raw: unknown) => P,
): JournalKind<P> {
  checkKind(name);
  return { name, idOf, parse };
}

const FORMAT_VERSION = 1;
const MAX_ID_LENGTH = 200;
export const MAX_ERROR_LENGTH = 1000;
export const ITEM_SUFFIX = ".json";

export function checkId(id: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (id.length === 0 || id.length > MAX_ID_LENGTH || /[\u0000-\u001f\u007f]/.test(id)) {
    throw new InputError(
      `journal item id ${JSON.stringify(id)}: must be 1-${MAX_ID_LENGTH} printable characters`,
    );
  }
}

export function checkKind(kind: string): void {
  if (!/^[a-z][a-z0-9-]{0,39}$/.test(kind)) {
    throw new InputError(
      `journal item kind ${JSON.stringify(kind)}: use 1-40 lower-case letters, digits, "-"`,
    );
  }
}

// node:crypto only for an over-long id (rare): loading it costs the hook ~5 ms.
// The require itself is made on first use too: node:module loads part of the ESM loader.
let requireBuiltin: NodeJS.Require | undefined;
function sha256Hex(text: string): string {
  requireBuiltin ??= createRequire(import.meta.url);
  return (requireBuiltin("node:crypto") as typeof import("node:crypto"))
    .createHash("sha256")
    .update(text)
    .digest("hex");
}

/**
 * The file name for an id: letters, digits and "-_@+=," as they are, anything
 * else (":" "/" "." included) as %XX, so no id can escape the directory, hide
 * as a dotfile or look like a temp file. Over-long names are cut and made
 * unique by a hash; the id inside the file is what counts.
 */
export function fileNameFor(id: string): string {
  let name = "";
  for (const byte of Buffer.from(id, "utf8")) {
    const ch = String.fromCharCode(byte);
    name += /[A-Za-z0-9\-_@+=,]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  if (name.length > 180) {
    name = `${name.slice(0, 100)}~${sha256Hex(id).slice(0, 32)}`;
  }
  return `${name}${ITEM_SUFFIX}`;
}

/** Where a corrupt item file is moved aside, kept for a human (never replayed). */
export function corruptAside(path: string, nowMs: number): string {
  return `${path}.${new Date(nowMs).toISOString().replace(/[:.]/g, "-")}.corrupt`;
}

export function encodeItem(item: JournalItem): string {
  return `${JSON.stringify({ v: FORMAT_VERSION, ...item }, null, 1)}\n`;
}

/** Parses a stored item; throws an Error saying what is wrong with it. */
export function decodeItem(text: string, fileName: string): JournalItem {
  const parsed = parseJson(text);
  if (!parsed.ok) throw new Error(parsed.problem);
  const raw = parsed.value;
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new Error("not an object");
  const r = raw as Record<string, unknown>;
  // Nothing read from the file is quoted: it may hold anything (read.ts parseJson).
  if (r.v !== FORMAT_VERSION) throw new Error(`format version is not ${FORMAT_VERSION}`);
  for (const field of ["id", "kind", "rev", "createdAt", "updatedAt"] as const) {
    if (typeof r[field] !== "string") throw new Error(`field ${field} is not a string`);
  }
  if (typeof r.attempts !== "number" || !Number.isInteger(r.attempts) || r.attempts < 0) {
    throw new Error("field attempts is not a count");
  }
  if (r.lastError !== undefined && typeof r.lastError !== "string")
    throw new Error("field lastError is not a string");
  if (!("payload" in r)) throw new Error("field payload is missing");
  const item: JournalItem = {
    id: r.id as string,
    kind: r.kind as string,
    rev: r.rev as string,
    createdAt: r.createdAt as string,
    updatedAt: r.updatedAt as string,
    attempts: r.attempts,
    payload: r.payload,
  };
  if (typeof r.lastError === "string") item.lastError = r.lastError;
  if (typeof r.lastAttemptAt === "string") item.lastAttemptAt = r.lastAttemptAt;
  if (fileNameFor(item.id) !== fileName) throw new Error("its id does not belong in this file");
  return item;
}
