import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { ownedAndClosed, runsAsRoot } from "../owner-only.ts";
import { writeFileAtomic } from "../state/atomic-write.ts";
import { makeDirs } from "../state/make-dirs.ts";
import { type HookView, hookViewOf, parseHookView } from "./hook-view.ts";
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
// The header also carries the hookscript's view of the config (hook-view.ts),
// so a hook phase reads the header and the text and stops there: its cost
// does not grow with the guests (the JSON after the text does, ~2.4 MB at
// 10,000 guests).

/** $PVEMIGRATE_DNS_CACHE_DIR lets tests and benchmarks keep the cache in their own temp dir. */
export const CONFIG_CACHE_DIR = process.env.PVEMIGRATE_DNS_CACHE_DIR || "/run/pvemigrate-dns";

// Bumped whenever Config gains or changes a field, or validation or path
// resolution changes: an entry written by an older version (after an upgrade
// without reboot) is then never used. 4: bounded durations, validated
// sshHost, every path relative to the config file. 5: the text itself, no
// digest. 6: header line, raw text, config JSON. 7: the hook's view in the header.
const FORMAT = 7;

interface CacheHeader {
  format: number;
  source: string;
  /** Byte length of the text that follows the header line. */
  textBytes: number;
  hook: HookView;
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
  if (!runsAsRoot()) return undefined;
  try {
    const file = configCacheFile(source, dir);
    const st = statSync(file);
    if (!trusted(st, statSync(dir))) return undefined;
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

/** Only what root wrote where only root can write counts (entries are used only as root: runsAsRoot). */
function trusted(st: { uid: number; mode: number }, dirSt: { uid: number; mode: number }): boolean {
  return ownedAndClosed(st) && ownedAndClosed(dirSt);
}

/**
 * The hookscript's view of the config `source`, open as `sourceFd`, if the
 * entry holds that file's exact text. Read in chunks and compared as they
 * come: the header line and the text, never the config JSON after them, and
 * never the whole file in memory (at 10,000 guests: 1 MiB of text, whose
 * buffers alone cost ~500 page faults, ~2 ms, where 128 KiB do).
 */
export function readHookViewSync(
  source: string,
  sourceFd: number,
  dir = CONFIG_CACHE_DIR,
): HookView | undefined {
  if (!runsAsRoot()) return undefined;
  let fd: number | undefined;
  try {
    fd = openSync(configCacheFile(source, dir), "r");
    const st = fstatSync(fd);
    if (!trusted(st, statSync(dir))) return undefined;
    const head = readHeaderLine(fd, st.size);
    if (!head) return undefined;
    const header = JSON.parse(head.line) as Partial<CacheHeader>;
    const view = parseHookView(header.hook);
    const textBytes = fstatSync(sourceFd).size;
    const same =
      header.format === FORMAT &&
      header.source === resolve(source) &&
      header.textBytes === textBytes &&
      view?.source === header.source &&
      head.end + textBytes <= st.size &&
      sameBytes(sourceFd, 0, fd, head.end, textBytes);
    return same ? view : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const CHUNK = 64 * 1024;

/** Whether `length` bytes of `a` from `aAt` equal those of `b` from `bAt`, a chunk at a time. */
function sameBytes(a: number, aAt: number, b: number, bAt: number, length: number): boolean {
  const bufA = Buffer.allocUnsafe(Math.min(CHUNK, length));
  const bufB = Buffer.allocUnsafe(bufA.length);
  for (let done = 0; done < length; ) {
    const want = Math.min(bufA.length, length - done);
    if (!readFully(a, bufA, want, aAt + done) || !readFully(b, bufB, want, bAt + done)) return false;
    if (!bufA.subarray(0, want).equals(bufB.subarray(0, want))) return false;
    done += want;
  }
  // The source must end there: a file that grew since its fstat is another text.
  return readSync(a, bufA, 0, 1, aAt + length) === 0;
}

/** Reads `want` bytes at `at` into the start of `buf`; false when the file ends first. */
function readFully(fd: number, buf: Buffer, want: number, at: number): boolean {
  for (let have = 0; have < want; ) {
    const n = readSync(fd, buf, have, want - have, at + have);
    if (n === 0) return false;
    have += n;
  }
  return true;
}

/** The entry's first line (without its newline) and where the text after it starts. */
function readHeaderLine(fd: number, size: number): { line: string; end: number } | undefined {
  // The header holds the hook's view with its vmid list: ~7 bytes a guest.
  let buf = Buffer.allocUnsafe(Math.min(size, 16 * 1024));
  let have = 0;
  for (;;) {
    const n = readSync(fd, buf, have, buf.length - have, have);
    const newline = buf.subarray(have, have + n).indexOf(0x0a);
    if (newline >= 0) return { line: buf.toString("utf8", 0, have + newline), end: have + newline + 1 };
    have += n;
    if (n === 0 || have >= size) return undefined;
    if (have === buf.length) {
      const bigger = Buffer.allocUnsafe(Math.min(size, buf.length * 4));
      buf.copy(bigger, 0, 0, have);
      buf = bigger;
    }
  }
}

/** An entry's bytes: the header line (with the hook's view), the text, the normalized config as JSON. */
export function configCacheEntry(source: string, text: string, hook: HookView, configJson: string): string {
  const header: CacheHeader = { format: FORMAT, source, textBytes: Buffer.byteLength(text, "utf8"), hook };
  return `${JSON.stringify(header)}\n${text}${configJson}`;
}

/** An entry holds the config's text (at most 1 MiB: pmxcfs) and its normalized JSON, a few times that at most. */
const MAX_CACHE_ENTRY_BYTES = 16 * 1024 * 1024;

/** Best effort: a cache that cannot be written only costs the next hook some milliseconds. */
export async function writeConfigCache(config: Config, text: string, dir = CONFIG_CACHE_DIR): Promise<void> {
  if (!runsAsRoot()) return;
  try {
    await makeDirs(dir, { mode: 0o700 });
    const source = resolve(config.source);
    const file = configCacheFile(source, dir);
    // As state files are written: an exclusive temp file (never through a link planted at its name), renamed.
    const entry = configCacheEntry(source, text, hookViewOf(config), JSON.stringify(config));
    await writeFileAtomic(file, entry, { mode: 0o600, maxBytes: MAX_CACHE_ENTRY_BYTES });
  } catch {}
}
