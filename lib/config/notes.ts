import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { crossCheck } from "./cross-check.ts";
import { formatPath } from "./normalize.ts";
import {
  checkFileOnlyKeys,
  checkNotesLimits,
  checkNotesPolicy,
  FILE_ONLY_KEYS,
  notesOffReason,
} from "./notes-policy.ts";
import { notesBlockSchema, type RawNotesBlock } from "./schema.ts";
import type { Config, Problem, VmConfig } from "./types.ts";

// A VM may carry its own block in its Proxmox Notes (the config's
// `description`), so its tenant can edit it in the web UI:
//
//   ```pvemigrate-dns
//   dns: [ shop.tenants.example.org ]
//   forward: [ "tcp/20022:22" ]
//   ```
//
// Notes are untrusted (see notes-policy.ts): off unless the file turns them
// on, never an address, and a block is taken whole or not at all: one entry
// outside the policy, over a limit, invalid, or colliding with another VM
// and the VM's Notes add nothing, with every reason reported. The central
// file wins field by field over an accepted block; each disagreement is
// reported so an admin sees that the Notes edit had no effect.

/**
 * Proxmox caps Notes at 8 KiB (`description` maxLength 1024 * 8 in qemu-server
 * PVE/QemuServer.pm and pve-container PVE/LXC/Config.pm); anything far beyond
 * did not come through the API and is not read.
 */
export const NOTES_MAX_BYTES = 64 * 1024;
/** Problems reported per VM's block; the rest are counted in one more line. */
export const NOTES_MAX_PROBLEMS = 8;

const OPENING = /^(```|~~~)[ \t]*pvemigrate-dns[ \t]*$/;

/** The text inside the first ```pvemigrate-dns fenced block, if any (line by line: linear in the text). */
export function extractNotesBlock(description: string): string | undefined {
  // The web UI may send \r\n.
  const lines = description.split(/\r?\n/);
  const start = lines.findIndex((l) => OPENING.test(l));
  if (start === -1) return undefined;
  const fence = lines[start]!.slice(0, 3);
  const end = lines.findIndex((l, i) => i > start && l.trimEnd() === fence);
  if (end === -1) return undefined;
  return lines
    .slice(start + 1, end)
    .map((l) => `${l}\n`)
    .join("");
}

export interface NotesMerge {
  config: Config;
  /** Why VMs' Notes blocks were refused (each refused whole): off, invalid, outside the policy, colliding. */
  problems: Problem[];
  /** Fields where an accepted Notes block and the file disagree (the file won). */
  conflicts: Problem[];
}

const LISTS = ["dns", "forward", "sni", "http"] as const;

const mapping = z.record(z.string(), z.unknown());

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

type Parsed = { block: RawNotesBlock; keys: Set<string> } | { problems: Problem[] };

function parseBlock(config: Config, vmid: string, text: string): Parsed {
  const where = `vms.${vmid} (Notes)`;
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    const line = (err instanceof Error ? err.message : String(err)).split("\n")[0];
    return { problems: [{ path: where, message: `not valid YAML: ${line}` }] };
  }
  const obj = mapping.safeParse(raw ?? {});
  if (!obj.success)
    return { problems: [{ path: where, message: "is not a mapping of dns/forward/sni/http" }] };
  const fileOnly = checkFileOnlyKeys(vmid, obj.data);
  const limits = checkNotesLimits(config, vmid, obj.data);
  if (limits.length) return { problems: [...fileOnly, ...limits] };
  // The entries are still checked with a file-only key present: every reason at once.
  const lists = Object.fromEntries(
    Object.entries(obj.data).filter(([key]) => !Object.hasOwn(FILE_ONLY_KEYS, key)),
  );
  const parsed = notesBlockSchema.safeParse(lists);
  if (!parsed.success) {
    const invalid = parsed.error.issues.map((i) => ({
      path: formatPath([where, ...i.path]),
      message: i.message,
    }));
    return { problems: [...fileOnly, ...invalid] };
  }
  const problems = [...fileOnly, ...checkNotesPolicy(config, vmid, parsed.data)];
  if (problems.length) return { problems };
  return { block: parsed.data, keys: new Set(Object.keys(obj.data)) };
}

/** At most NOTES_MAX_PROBLEMS lines per VM: a hostile block must not flood the log. */
function capped(vmid: string, problems: Problem[]): Problem[] {
  if (problems.length <= NOTES_MAX_PROBLEMS) return problems;
  return [
    ...problems.slice(0, NOTES_MAX_PROBLEMS),
    {
      path: `vms.${vmid} (Notes)`,
      message: `and ${problems.length - NOTES_MAX_PROBLEMS} more problems; the block is ignored`,
    },
  ];
}

/** The VM's config with an accepted block merged under the file's (or a new VM for a Notes-only one). */
function mergeVm(
  config: Config,
  vmid: string,
  block: RawNotesBlock,
  keys: Set<string>,
  conflicts: Problem[],
) {
  const fromFile = config.vms[vmid];
  if (!fromFile) {
    const vm: VmConfig = {
      vmid: Number(vmid),
      // Never from the Notes: the policy's discovery method, checked by observe like any guest answer.
      ip: { kind: config.notes.ip },
      ...block,
      nodes: Object.keys(config.nodes),
      notesClaims: [...block.dns],
    };
    return vm;
  }
  // Field by field: a list the file leaves empty is taken from Notes; any
  // other difference is a conflict the file wins.
  const merged: VmConfig = { ...fromFile };
  for (const field of LISTS) {
    if (!keys.has(field) || sameValue(fromFile[field], block[field])) continue;
    if (fromFile[field].length === 0) {
      Object.assign(merged, { [field]: block[field] });
      if (field === "dns") merged.notesClaims = [...block.dns];
    } else {
      conflicts.push({
        path: `vms.${vmid}.${field}`,
        message: "the VM's Notes say otherwise; the config file wins",
      });
    }
  }
  return merged;
}

/** Merges Notes blocks (vmid -> description text) under the file's config. */
export function mergeNotes(config: Config, descriptions: Record<string, string>): NotesMerge {
  const problems: Problem[] = [];
  const conflicts: Problem[] = [];
  const vms = { ...config.vms };
  for (const [vmid, description] of Object.entries(descriptions)) {
    if (Buffer.byteLength(description) > NOTES_MAX_BYTES) {
      problems.push({
        path: `vms.${vmid} (Notes)`,
        message: `the Notes are ${Buffer.byteLength(description)} bytes, more than ${NOTES_MAX_BYTES}; not read`,
      });
      continue;
    }
    const text = extractNotesBlock(description);
    if (text === undefined) continue;
    const off = notesOffReason(config, vmid);
    if (off) {
      problems.push({ path: `vms.${vmid} (Notes)`, message: off });
      continue;
    }
    const parsed = parseBlock(config, vmid, text);
    if ("problems" in parsed) problems.push(...capped(vmid, parsed.problems));
    else vms[vmid] = mergeVm(config, vmid, parsed.block, parsed.keys, conflicts);
  }
  const merged = { ...config, vms };
  // A Notes block must not break the cluster's config: if the merged config
  // has new cross-field problems, those VMs fall back to the file alone.
  const before = new Set(crossCheck(config).map((p) => `${p.path}: ${p.message}`));
  const introduced = crossCheck(merged).filter((p) => !before.has(`${p.path}: ${p.message}`));
  if (introduced.length === 0) return { config: merged, problems, conflicts };
  const changed = Object.keys(vms).filter((id) => !sameValue(vms[id], config.vms[id]));
  const mentions = (id: string) =>
    introduced.some((p) => new RegExp(`\\b${id}\\b`).test(`${p.path} ${p.message}`));
  for (const vmid of changed.filter(mentions)) {
    if (config.vms[vmid]) vms[vmid] = config.vms[vmid];
    else delete vms[vmid];
  }
  problems.push(
    ...introduced.map((p) => ({ path: p.path, message: `${p.message} (from the VM's Notes; ignored)` })),
  );
  return { config: { ...config, vms }, problems, conflicts };
}
