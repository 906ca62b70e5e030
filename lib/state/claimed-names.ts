import { mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import type { ClaimRecord } from "../dns/claims.ts";
import { errnoCode } from "../errors.ts";
import { writeFileAtomic } from "./atomic-write.ts";
import { warnOnStderr } from "./warn.ts";

// The registry of guest names this tool wrote: name -> the VM it was written
// for and where that claim came from (file or Notes). It is how a name whose
// claim went away is found again without a zone transfer: reconcile withdraws
// every registered name its VM no longer claims. One small JSON file in
// pmxcfs (<pveRoot>/pvemigrate-dns/claimed-names.json), so every node sees
// it; read and rewritten only under the "dns" cluster lock, which every DNS
// write of the orchestrator holds anyway. No file (a fresh install, or an
// upgrade from a version without it) means no name is known: nothing is
// withdrawn until a name has been written (or confirmed) by this version.

export type ClaimRegistry = Map<string, ClaimRecord>;

/**
 * The largest file pmxcfs stores: pve-cluster src/pmxcfs/memdb.h
 * MEMDB_MAX_FILE_SIZE (1 MiB); memdb_write refuses a write past it (EFBIG).
 * The registry is bounded by its size, not by a count of names: 10,000
 * guests with one 20-character name each make ~0.5 MiB.
 */
export const MEMDB_MAX_FILE_SIZE = 1024 * 1024;
/** Tombstones kept (the oldest go first): enough to remember the names an admin recently took back. */
export const MAX_TOMBSTONES = 500;

const FORMAT_VERSION = 1;

const recordSchema = z
  .object({
    vmid: z.number().int().positive(),
    origin: z.enum(["file", "notes"]),
    withdrawnAt: z.number().optional(),
  })
  .strict();
const fileSchema = z.object({ v: z.literal(FORMAT_VERSION), names: z.record(z.string(), recordSchema) });

export class ClaimedNamesStore {
  constructor(
    readonly file: string,
    private readonly warn: (m: string) => void = warnOnStderr,
  ) {}

  /** The registry; undefined when there is none yet (or it is unreadable: then nothing is withdrawn). */
  async read(): Promise<ClaimRegistry | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return undefined;
      throw err;
    }
    const parsed = fileSchema.safeParse(parseJson(text));
    if (!parsed.success) {
      // Written by a newer version, or damaged: forgetting names only ever keeps them in DNS.
      this.warn(
        `${this.file}: not a registry this version reads; no name is withdrawn until it is rewritten`,
      );
      return undefined;
    }
    return new Map(Object.entries(parsed.data.names).map(([name, r]) => [name, withoutUndefined(r)]));
  }

  /** Replaces the registry (callers hold the "dns" cluster lock). */
  async write(registry: ClaimRegistry): Promise<void> {
    const text = serialize(bounded(registry));
    await mkdir(dirname(this.file), { recursive: true });
    await writeFileAtomic(this.file, text, { maxBytes: MEMDB_MAX_FILE_SIZE });
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function withoutUndefined(r: z.infer<typeof recordSchema>): ClaimRecord {
  return {
    vmid: r.vmid,
    origin: r.origin,
    ...(r.withdrawnAt === undefined ? {} : { withdrawnAt: r.withdrawnAt }),
  };
}

function serialize(registry: ClaimRegistry): string {
  const names = Object.fromEntries([...registry].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  return `${JSON.stringify({ v: FORMAT_VERSION, names })}\n`;
}

/**
 * Drops the oldest tombstones beyond MAX_TOMBSTONES, and more of them while
 * the file would not fit pmxcfs; refuses (nothing written) held names that
 * alone would not fit, since pmxcfs would refuse the write anyway.
 */
function bounded(registry: ClaimRegistry): ClaimRegistry {
  const held = [...registry].filter(([, r]) => r.withdrawnAt === undefined);
  const heldBytes = Buffer.byteLength(serialize(new Map(held)));
  if (heldBytes > MEMDB_MAX_FILE_SIZE)
    throw new Error(
      `claimed-names registry: ${held.length} names take ${heldBytes} bytes, over pmxcfs's file limit of ${MEMDB_MAX_FILE_SIZE}`,
    );
  const tombstones = [...registry]
    .filter(([, r]) => r.withdrawnAt !== undefined)
    .sort(([, x], [, y]) => (y.withdrawnAt ?? 0) - (x.withdrawnAt ?? 0))
    .slice(0, MAX_TOMBSTONES);
  // Each entry is `"name":{...},`: its own bytes plus a comma, newest tombstones first.
  let room = MEMDB_MAX_FILE_SIZE - heldBytes;
  const kept = tombstones.filter(([name, r]) => {
    const size = Buffer.byteLength(JSON.stringify({ [name]: r })) - 1;
    if (size > room) return false;
    room -= size;
    return true;
  });
  return new Map([...held, ...kept]);
}

/** The registry after `vmid` wrote (or kept) `name` for a claim from `origin`. */
export function recordHeld(registry: ClaimRegistry, name: string, record: ClaimRecord): boolean {
  const old = registry.get(name);
  if (old && old.vmid === record.vmid && old.origin === record.origin && old.withdrawnAt === undefined)
    return false;
  registry.set(name, { vmid: record.vmid, origin: record.origin });
  return true;
}

/**
 * After a withdrawal (or finding the name gone): a name the file had given
 * stays as a tombstone, so no Notes block picks it up next; a Notes name is
 * forgotten (free for any claim again).
 */
export function recordReleased(registry: ClaimRegistry, name: string, now: number): void {
  const old = registry.get(name);
  if (!old) return;
  if (old.origin === "file") registry.set(name, { ...old, withdrawnAt: now });
  else registry.delete(name);
}
