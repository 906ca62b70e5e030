import { readFileSync } from "node:fs";
import { readFile, unlink } from "node:fs/promises";
import { isIPv6 } from "node:net";
import { join } from "node:path";
import { errnoCode, InputError, messageOf } from "../errors.ts";
import { writeFileAtomic } from "./atomic-write.ts";
import { makeDirs } from "./make-dirs.ts";
import { listDir, parseJsonObject } from "./read.ts";
import { warnOnStderr } from "./warn.ts";

// What was last applied for each VM: the node it was switched to and the
// addresses involved. The orchestrator reads it to know where a VM came from
// when the API does not say (offline migration, HA recovery, a missed hook),
// and which DNS values to use as the "old" side of a compare-and-swap.
// One small file per VM, kept both in stateDir (always writable) and in pmxcfs
// (seen by every node; read-only without quorum). A read takes the newer copy.

export interface LastApplied {
  vmid: number;
  /** The node the VM was last switched to. */
  node: string;
  /** The VM's private addresses that forwards and routes pointed at. */
  privateIPs: string[];
  /** Its IPv6 that IPv6 forwards pointed at (a discovered `ip6: agent` too), when it had one. */
  privateIPv6?: string;
  /** The public addresses its DNS names were pointed at. */
  publicIPs: string[];
  /** The DNS names that were written for it. */
  names: string[];
  /** ISO time of the switch. */
  appliedAt: string;
}

export type LastAppliedInput = Pick<LastApplied, "vmid" | "node"> &
  Partial<Omit<LastApplied, "vmid" | "node">>;

export interface LastAppliedOptions {
  /** stateDir/last-applied */
  localDir: string;
  /** <pveRoot>/pvemigrate-dns/last-applied */
  clusterDir: string;
  /** Mode of local files (pmxcfs files get pmxcfs's own). */
  fileMode?: number;
  now?: () => number;
  warn?: (message: string) => void;
}

export interface SetResult {
  record: LastApplied;
  /** False when the pmxcfs copy could not be written (no quorum): the local copy still has it. */
  cluster: boolean;
}

export class LastAppliedStore {
  readonly #opts: LastAppliedOptions;
  readonly #now: () => number;
  readonly #warn: (message: string) => void;

  constructor(opts: LastAppliedOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#warn = opts.warn ?? warnOnStderr;
  }

  async get(vmid: number): Promise<LastApplied | undefined> {
    checkVmid(vmid);
    const [local, cluster] = await Promise.all([
      this.#read(this.#opts.localDir, vmid, false),
      this.#read(this.#opts.clusterDir, vmid, true),
    ]);
    return newer(local, cluster);
  }

  /** Every VM with a record, newest copy each, by vmid. */
  async list(): Promise<LastApplied[]> {
    const vmids = new Set([
      ...(await vmidsIn(this.#opts.localDir)),
      ...(await vmidsIn(this.#opts.clusterDir)),
    ]);
    // Read synchronously: thousands of small files (two per VM) cost far more
    // as promises through the thread pool (~2x at 10,000 guests, issue 16)
    // than as plain reads, and nothing else runs while a run lists them.
    const records = [...vmids]
      .sort((a, b) => a - b)
      .map((vmid) =>
        newer(
          this.#readSync(this.#opts.localDir, vmid, false),
          this.#readSync(this.#opts.clusterDir, vmid, true),
        ),
      );
    return records.filter((r): r is LastApplied => r !== undefined);
  }

  /** Writes the local copy (must succeed) and the pmxcfs copy (best effort, reported in the result). */
  async set(input: LastAppliedInput): Promise<SetResult> {
    checkVmid(input.vmid);
    if (!input.node) throw new InputError(`last-applied for VM ${input.vmid}: node is empty`);
    const record: LastApplied = {
      vmid: input.vmid,
      node: input.node,
      privateIPs: [...(input.privateIPs ?? [])],
      ...(input.privateIPv6 ? { privateIPv6: input.privateIPv6 } : {}),
      publicIPs: [...(input.publicIPs ?? [])],
      names: [...(input.names ?? [])],
      appliedAt: input.appliedAt ?? new Date(this.#now()).toISOString(),
    };
    const text = `${JSON.stringify(record)}\n`;
    await makeDirs(this.#opts.localDir, { mode: 0o700 });
    const mode = this.#opts.fileMode === undefined ? {} : { mode: this.#opts.fileMode };
    await writeFileAtomic(join(this.#opts.localDir, `${record.vmid}.json`), text, mode);
    try {
      await makeDirs(this.#opts.clusterDir);
      await writeFileAtomic(join(this.#opts.clusterDir, `${record.vmid}.json`), text);
      return { record, cluster: true };
    } catch (err) {
      this.#warn(
        `last-applied for VM ${record.vmid}: pmxcfs copy not written (${messageOf(err)}); kept locally`,
      );
      return { record, cluster: false };
    }
  }

  async remove(vmid: number): Promise<void> {
    checkVmid(vmid);
    for (const dir of [this.#opts.localDir, this.#opts.clusterDir]) {
      await unlink(join(dir, `${vmid}.json`)).catch((err: unknown) => {
        if (errnoCode(err) !== "ENOENT") this.#warn(`last-applied for VM ${vmid}: ${messageOf(err)}`);
      });
    }
  }

  /** One copy; with `tolerant`, an unreadable copy (pmxcfs trouble) is reported and skipped, not fatal. */
  async #read(dir: string, vmid: number, tolerant: boolean): Promise<LastApplied | undefined> {
    const path = join(dir, `${vmid}.json`);
    return this.#parse(
      path,
      vmid,
      await readFile(path, "utf8").catch((err) => this.#unreadable(path, err, tolerant)),
    );
  }

  #readSync(dir: string, vmid: number, tolerant: boolean): LastApplied | undefined {
    const path = join(dir, `${vmid}.json`);
    let text: string | undefined;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      text = this.#unreadable(path, err, tolerant);
    }
    return this.#parse(path, vmid, text);
  }

  /** A copy that cannot be read: none when missing; reported and skipped when `tolerant`, else fatal. */
  #unreadable(path: string, err: unknown, tolerant: boolean): undefined {
    if (errnoCode(err) === "ENOENT") return undefined;
    if (!tolerant) throw err;
    this.#warn(`last-applied ${path}: unreadable (${messageOf(err)}), using the local copy`);
    return undefined;
  }

  #parse(path: string, vmid: number, text: string | undefined): LastApplied | undefined {
    if (text === undefined) return undefined;
    const record = parseLastApplied(text);
    // A damaged copy is ignored (the other copy or the next switch replaces it), not fatal.
    if (!record || record.vmid !== vmid) this.#warn(`last-applied ${path}: not a valid record, ignored`);
    return record?.vmid === vmid ? record : undefined;
  }
}

function checkVmid(vmid: number): void {
  if (!Number.isInteger(vmid) || vmid <= 0) throw new InputError(`vmid ${vmid}: not a positive integer`);
}

function newer(a: LastApplied | undefined, b: LastApplied | undefined): LastApplied | undefined {
  if (!a || !b) return a ?? b;
  return Date.parse(a.appliedAt) > Date.parse(b.appliedAt) ? a : b;
}

async function vmidsIn(dir: string): Promise<number[]> {
  return (await listDir(dir)).flatMap((name) => {
    const m = /^(\d+)\.json$/.exec(name);
    return m ? [Number(m[1])] : [];
  });
}

const isStringArray = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((s) => typeof s === "string");

export function parseLastApplied(text: string): LastApplied | undefined {
  const r = parseJsonObject(text);
  if (!r) return undefined;
  if (typeof r.vmid !== "number" || !Number.isInteger(r.vmid) || typeof r.node !== "string") return undefined;
  if (!isStringArray(r.privateIPs) || !isStringArray(r.publicIPs) || !isStringArray(r.names))
    return undefined;
  if (typeof r.appliedAt !== "string" || Number.isNaN(Date.parse(r.appliedAt))) return undefined;
  return {
    vmid: r.vmid,
    node: r.node,
    privateIPs: r.privateIPs,
    ...(typeof r.privateIPv6 === "string" && isIPv6(r.privateIPv6) ? { privateIPv6: r.privateIPv6 } : {}),
    publicIPs: r.publicIPs,
    names: r.names,
    appliedAt: r.appliedAt,
  };
}
