import { z } from "zod";
import { ExitCode } from "../errors.ts";
import type { Runtime } from "../orchestrate/runtime.ts";
import { checkFile, type FileCheck, readStorages, rootFor } from "./files.ts";
import { inspectGuests } from "./inspect.ts";
import { type GuestHooks, ownerOf } from "./plan.ts";
import { hooksOn } from "./remote.ts";
import { assertOurVolid, type StorageTable, snippetPath } from "./volume.ts";

// `hooks status`: per guest, whose hookscript it runs (ours, another, none),
// what ours chains, and whether each file exists and is executable on the
// guest's node, the test Proxmox makes before every run (check_hookscript).
// Files on another node are checked there, by its own `hooks status --local`.

const fileCheckSchema = z.object({
  state: z.enum(["ok", "missing", "not-executable", "unknown"]),
  path: z.string().optional(),
  detail: z.string().optional(),
});

export const guestStatusSchema = z.object({
  vmid: z.number().int().positive(),
  type: z.enum(["qemu", "lxc"]).optional(),
  node: z.string().optional(),
  hookscript: z.enum(["ours", "other", "none", "unknown"]),
  /** The guest's `hookscript` volume id. */
  volid: z.string().optional(),
  /** Its file on the guest's node. */
  file: fileCheckSchema.optional(),
  /** The hookscript ours runs first (attach --chain), and its file on the guest's node. */
  chained: z.object({ volid: z.string(), file: fileCheckSchema }).optional(),
  /** Why the rest is unknown. */
  error: z.string().optional(),
});
export type GuestHookStatus = z.infer<typeof guestStatusSchema>;

export interface HooksStatusReport {
  /** Our hookscript's volume id, what "ours" means. */
  ours: string;
  guests: GuestHookStatus[];
  missing: number[];
  exitCode: ExitCode;
}

export interface StatusOptions {
  vmids?: number[];
  ours: string;
  rootDir: string;
  localOnly: boolean;
}

async function fileOf(volid: string, storages: StorageTable, root: string): Promise<FileCheck> {
  const where = snippetPath(volid, storages, root);
  return "error" in where ? { state: "unknown", detail: where.error } : checkFile(where.path);
}

/** A guest on this node, files checked here. */
async function statusHere(g: GuestHooks, ours: string, storages: StorageTable, root: string) {
  const owner = ownerOf(g.hookscript, ours);
  const s: GuestHookStatus = { vmid: g.vmid, type: g.type, node: g.node, hookscript: owner };
  if (g.hookscript) {
    s.volid = g.hookscript;
    s.file = await fileOf(g.hookscript, storages, root);
  }
  // A record left for a guest that no longer runs ours is never executed: not shown.
  if (owner === "ours" && g.chain) s.chained = { volid: g.chain.volid, file: await checkFile(g.chain.path) };
  return s;
}

export async function hooksStatus(rt: Runtime, opts: StatusOptions): Promise<HooksStatusReport> {
  const storages = await readStorages(rt.config.pveRoot);
  assertOurVolid(opts.ours, storages);
  const seen = await inspectGuests(rt, {
    ...(opts.vmids ? { vmids: opts.vmids } : {}),
    requireConfigured: false,
    localOnly: opts.localOnly,
  });
  const out: GuestHookStatus[] = seen.unreadable.map((u) => ({
    vmid: u.vmid,
    ...(u.type ? { type: u.type } : {}),
    ...(u.node ? { node: u.node } : {}),
    hookscript: "unknown" as const,
    error: u.error,
  }));
  const remote = new Map<string, GuestHooks[]>();
  for (const g of seen.guests) {
    if (g.node === rt.self) out.push(await statusHere(g, opts.ours, storages, rootFor(opts.rootDir, g.node)));
    else remote.set(g.node, [...(remote.get(g.node) ?? []), g]);
  }
  const asked = await Promise.all(
    [...remote].map(async ([node, list]) => {
      const args = ["status", ...list.map((g) => String(g.vmid)), "--script", opts.ours];
      const r = await hooksOn(rt, node, [...args, "--root", rootFor(opts.rootDir, node)], guestStatusSchema);
      const byId = new Map(("guests" in r ? r.guests : []).map((x) => [x.vmid, x]));
      return list.map((g): GuestHookStatus => {
        const got = byId.get(g.vmid);
        if (got) return got;
        // What the API told us still holds; only the files are unknown.
        const unknown = {
          state: "unknown" as const,
          detail: `${node}: ${"error" in r ? r.error : "no result"}`,
        };
        const owner = ownerOf(g.hookscript, opts.ours);
        return {
          vmid: g.vmid,
          type: g.type,
          node: g.node,
          hookscript: owner,
          ...(g.hookscript ? { volid: g.hookscript, file: unknown } : {}),
          ...(owner === "ours" && g.chain ? { chained: { volid: g.chain.volid, file: unknown } } : {}),
        };
      });
    }),
  );
  out.push(...asked.flat());
  out.sort((a, b) => a.vmid - b.vmid);
  return {
    ours: opts.ours,
    guests: out,
    missing: seen.missing,
    exitCode: out.some((g) => g.error) ? ExitCode.peer : ExitCode.ok,
  };
}
