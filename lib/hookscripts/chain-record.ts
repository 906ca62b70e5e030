import { readFileSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode } from "../errors.ts";
import { writeFileAtomic } from "../state/atomic-write.ts";
import { makeDirs } from "../state/make-dirs.ts";
import { parseJsonObject } from "../state/read.ts";

// Which other hookscript our hook runs first for a guest (`hooks attach
// --chain`). One small file per guest in pmxcfs,
// `<pveRoot>/pvemigrate-dns/hook-chain/<vmid>.json`, because:
// - pmxcfs replicates it, so the hook finds it on whichever node the guest
//   starts or migrates to, and only root can write /etc/pve: what the hook
//   executes is as trusted as the `hookscript` option itself (root@pam only);
// - the hook's pre-start fast path pays one open(): a guest without a chain
//   costs an ENOENT, no schema library, no config parsing;
// - one file per guest: attach and detach on different nodes never rewrite
//   each other's records, so no cluster lock is needed;
// - not in the central config: that file is the admin's (a machine write
//   would lose comments), and a broken config would silently stop the
//   chained script from running.
// Parsed by hand, not with zod: this runs at every hook start.

export interface ChainRecord {
  vmid: number;
  /** The guest's previous hookscript, which our hook runs first with the same arguments. */
  volid: string;
  /** Its file, resolved from `volid` when it was chained (see volume.ts). */
  path: string;
  /** ISO time it was chained. */
  chainedAt: string;
}

export function chainDir(pveRoot: string): string {
  return join(pveRoot, "pvemigrate-dns", "hook-chain");
}

export function chainFile(pveRoot: string, vmid: number): string {
  return join(chainDir(pveRoot), `${vmid}.json`);
}

/** The record, or undefined when the text is not one (for this guest). */
export function parseChainRecord(text: string, vmid: number): ChainRecord | undefined {
  const o = parseJsonObject(text);
  if (!o) return undefined;
  const { vmid: id, volid, path, chainedAt } = o;
  if (id !== vmid || typeof volid !== "string" || typeof path !== "string" || !path.startsWith("/"))
    return undefined;
  return { vmid, volid, path, chainedAt: typeof chainedAt === "string" ? chainedAt : "" };
}

export type ChainRead =
  | { kind: "none" }
  | { kind: "chained"; record: ChainRecord }
  | { kind: "bad"; error: string };

/** Synchronous: every hook phase asks, and nearly every guest has none (one ENOENT, no thread pool). */
export function readChainRecord(pveRoot: string, vmid: number): ChainRead {
  const file = chainFile(pveRoot, vmid);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = errnoCode(err);
    if (code === "ENOENT") return { kind: "none" };
    return { kind: "bad", error: `${file}: cannot read it (${code ?? "error"})` };
  }
  const record = parseChainRecord(text, vmid);
  // The content is never quoted: a message names the file and what is wrong.
  return record
    ? { kind: "chained", record }
    : { kind: "bad", error: `${file}: not a chain record for VM ${vmid}` };
}

export async function writeChainRecord(pveRoot: string, record: ChainRecord): Promise<void> {
  await makeDirs(chainDir(pveRoot));
  await writeFileAtomic(chainFile(pveRoot, record.vmid), `${JSON.stringify(record, null, 2)}\n`);
}

export async function dropChainRecord(pveRoot: string, vmid: number): Promise<void> {
  await unlink(chainFile(pveRoot, vmid)).catch((err: unknown) => {
    if (errnoCode(err) !== "ENOENT") throw err;
  });
}
