import { parse as parseYaml } from "yaml";
import { crossCheck } from "./cross-check.ts";
import { formatPath, normalizeVm } from "./normalize.ts";
import { vmSchema } from "./schema.ts";
import type { Config, Problem, VmConfig } from "./types.ts";

// A VM may carry its own block in its Proxmox Notes (the config's
// `description`), so it can be edited in the web UI:
//
//   ```pvemigrate-dns
//   dns: [ shop.example.org ]
//   forward: [ "tcp/2223:22" ]
//   ```
//
// The central file wins field by field; every field where the two disagree is
// reported, so an admin sees that the Notes edit had no effect.

const FENCE = /^(```|~~~)\s*pvemigrate-dns\s*\n([\s\S]*?)^\1\s*$/m;

/** The text inside the first ```pvemigrate-dns fenced block, if any. */
export function extractNotesBlock(description: string): string | undefined {
  // Proxmox stores Notes with each line prefixed by nothing but may use \r\n from the web UI.
  const m = FENCE.exec(description.replace(/\r\n/g, "\n"));
  return m ? (m[2] ?? "") : undefined;
}

export interface NotesMerge {
  config: Config;
  /** Invalid Notes blocks and cross-check problems they cause: those VMs' Notes are ignored. */
  problems: Problem[];
  /** Fields where Notes and the file disagree (the file won). */
  conflicts: Problem[];
}

const FIELDS = ["ip", "dns", "forward", "sni", "http", "nodes"] as const;

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function parseBlock(vmid: string, block: string, config: Config): { vm?: VmConfig; problems: Problem[] } {
  const where = `vms.${vmid} (Notes)`;
  let raw: unknown;
  try {
    raw = parseYaml(block);
  } catch (err) {
    const line = (err as Error).message.split("\n")[0];
    return { problems: [{ path: where, message: `not valid YAML: ${line}` }] };
  }
  const parsed = vmSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    return {
      problems: parsed.error.issues.map((i) => ({
        path: formatPath([where, ...i.path]),
        message: i.message,
      })),
    };
  }
  // The public IPv6 is DNATed to ip6: a tenant must not aim it at another VM or a node.
  if (parsed.data.ip6 !== undefined) {
    return { problems: [{ path: `${where}.ip6`, message: "only the config file may set a VM's ip6" }] };
  }
  return { vm: normalizeVm(vmid, parsed.data, Object.keys(config.nodes)), problems: [] };
}

/** Merges Notes blocks (vmid -> description text) under the file's config. */
export function mergeNotes(config: Config, descriptions: Record<string, string>): NotesMerge {
  const problems: Problem[] = [];
  const conflicts: Problem[] = [];
  const vms = { ...config.vms };
  for (const [vmid, description] of Object.entries(descriptions)) {
    const block = extractNotesBlock(description);
    if (block === undefined) continue;
    const { vm: fromNotes, problems: blockProblems } = parseBlock(vmid, block, config);
    problems.push(...blockProblems);
    if (!fromNotes) continue;
    const fromFile = config.vms[vmid];
    if (!fromFile) {
      vms[vmid] = { ...fromNotes, notesClaims: fromNotes.dns };
      continue;
    }
    // Field by field: a list the file leaves empty is taken from Notes; any
    // other difference is a conflict the file wins.
    const merged: VmConfig = { ...fromFile };
    for (const field of FIELDS) {
      if (sameValue(fromFile[field], fromNotes[field]) || !new RegExp(`^${field}\\s*:`, "m").test(block))
        continue;
      const fileValue = fromFile[field];
      if (field !== "ip" && field !== "nodes" && Array.isArray(fileValue) && fileValue.length === 0) {
        Object.assign(merged, { [field]: fromNotes[field] });
        if (field === "dns") merged.notesClaims = fromNotes.dns;
      } else {
        conflicts.push({
          path: `vms.${vmid}.${field}`,
          message: "the VM's Notes say otherwise; the config file wins",
        });
      }
    }
    vms[vmid] = merged;
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
