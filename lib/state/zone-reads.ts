import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { NameState } from "../dns/changes.ts";
import type { ZoneReads } from "../dns/read-reuse.ts";
import { errnoCode, messageOf } from "../errors.ts";
import { writeFileAtomic } from "./atomic-write.ts";
import { makeDirs } from "./make-dirs.ts";
import { parseJson } from "./read.ts";

// The last full read of the zone's names, kept so a steady run whose zone
// serial did not change can skip reading them (lib/dns/read-reuse.ts).
// stateDir/dns-reads.json: node-local (each node reads at its own time), one
// file replaced atomically. A file that is missing, cut short, foreign or
// whose digest does not match its names is no record: the run reads in full.
// Version 2 added the TSIG key the names were read with; a version 1 record
// (written before) is no record either, and not worth a warning.

export const ZONE_READS_FILE = "dns-reads.json";
/** Some 150 bytes a name: room for 100,000 names; a larger record is not kept (a full read each run). */
export const MAX_ZONE_READS_BYTES = 16 * 1024 * 1024;

// [name, exists, a, aaaa, txt, owned, ttl or null]: compact, as 10,000 names are read back each run.
const entry = z.tuple([
  z.string(),
  z.boolean(),
  z.array(z.string()),
  z.array(z.string()),
  z.array(z.string()),
  z.boolean(),
  z.number().int().min(0).nullable(),
]);
type Entry = z.infer<typeof entry>;

const FORMAT_VERSION = 2;

const fileSchema = z.strictObject({
  version: z.literal(FORMAT_VERSION),
  zone: z.string(),
  master: z.string(),
  key: z.string(),
  serial: z.number().int().min(0),
  readAt: z.number().int().min(0),
  digest: z.string(),
  names: z.array(entry),
});

const isVersion1 = (value: unknown) =>
  typeof value === "object" && value !== null && "version" in value && value.version === 1;

const digestOf = (names: readonly Entry[]) =>
  createHash("sha256").update(JSON.stringify(names)).digest("hex");

export class ZoneReadStore {
  readonly #path: string;
  readonly #dir: string;
  readonly #warn: (message: string) => void;

  constructor(stateDir: string, warn: (message: string) => void) {
    this.#dir = stateDir;
    this.#path = join(stateDir, ZONE_READS_FILE);
    this.#warn = warn;
  }

  /** The record, or undefined (none yet, or unusable: said once in `warn`, never its content). */
  async read(): Promise<ZoneReads | undefined> {
    let text: string;
    try {
      if ((await stat(this.#path)).size > MAX_ZONE_READS_BYTES) return this.#unusable("too large");
      text = await readFile(this.#path, "utf8");
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return undefined;
      return this.#unusable(messageOf(err).split("\n")[0] ?? "unreadable");
    }
    const json = parseJson(text);
    if (!json.ok) return this.#unusable(json.problem);
    if (isVersion1(json.value)) return undefined;
    const parsed = fileSchema.safeParse(json.value);
    if (!parsed.success) return this.#unusable("not a record of this version");
    const f = parsed.data;
    if (digestOf(f.names) !== f.digest) return this.#unusable("its digest does not match its names");
    const names = new Map<string, NameState>();
    for (const [name, exists, a, aaaa, txt, owned, ttl] of f.names)
      names.set(name, { exists, a, aaaa, txt, owned, ...(ttl === null ? {} : { ttl }) });
    return { zone: f.zone, master: f.master, key: f.key, serial: f.serial, readAt: f.readAt, names };
  }

  async write(record: ZoneReads): Promise<void> {
    const names: Entry[] = [...record.names].map(([name, s]) => [
      name,
      s.exists,
      s.a,
      s.aaaa,
      s.txt,
      s.owned,
      s.ttl ?? null,
    ]);
    const { zone, master, key, serial, readAt } = record;
    const body = {
      version: FORMAT_VERSION,
      zone,
      master,
      key,
      serial,
      readAt,
      digest: digestOf(names),
      names,
    };
    await makeDirs(this.#dir);
    await writeFileAtomic(this.#path, JSON.stringify(body), { mode: 0o600, maxBytes: MAX_ZONE_READS_BYTES });
  }

  #unusable(why: string): undefined {
    this.#warn(`${this.#path}: ignored (${why}); the zone's names are read in full`);
    return undefined;
  }
}
