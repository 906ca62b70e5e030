import { join } from "node:path";
import { InputError } from "../errors.ts";

// PURE: where a hookscript volume id (`local:snippets/name`) lives on disk,
// the way Proxmox resolves it, so we can check the file and run a chained
// script ourselves. pve-guest-common GuestHelpers.pm `check_hookscript` calls
// PVE::Storage::path; pve-storage Storage.pm `parse_volume_id` splits the id,
// Plugin.pm `parse_volname` accepts only `snippets/<name>` (no further "/"),
// and `get_subdir`/`filesystem_path` give `<storage path>/<content-dirs
// snippets, else "snippets">/<name>`. Only file-level storages with a path
// (dir, nfs, cifs, cephfs, btrfs) use that plugin code; anything else we
// refuse, with the reason, rather than guess.

/** Our own hookscript's volume id, as packaging/install.sh installs it. */
export const OUR_VOLID = "local:snippets/pvemigrate-dns.mjs";

/** pve-storage Plugin.pm `parse_config`: `local` is always a dir storage at this path, on every node. */
export const LOCAL_STORAGE_PATH = "/var/lib/vz";

/** Storage types whose snippets are files under `path` (pve-storage Plugin.pm `filesystem_path`). */
const PATH_TYPES = new Set(["dir", "nfs", "cifs", "cephfs", "btrfs"]);

/** One section of storage.cfg, the fields path resolution needs. */
export interface StorageEntry {
  type: string;
  path?: string;
  /** `content-dirs` overrides: content type -> directory relative to `path`. */
  contentDirs: Record<string, string>;
}

export type StorageTable = Record<string, StorageEntry>;

/** pve-storage Plugin.pm `parse_volume_id`. */
const VOLID = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$/i;
/** pve-storage Plugin.pm `parse_volname`: snippets/<name>, one path component. */
const SNIPPET = /^snippets\/([^/]+)$/;

export interface SnippetVolume {
  storage: string;
  name: string;
}

export function parseSnippetVolid(volid: string): SnippetVolume | { error: string } {
  const m = VOLID.exec(volid);
  if (!m) return { error: `${JSON.stringify(volid)} is not a volume id (storage:snippets/name)` };
  const s = SNIPPET.exec(m[2]!);
  if (!s || s[1] === "." || s[1] === "..")
    return { error: `${JSON.stringify(volid)} is not in a snippets directory (storage:snippets/name)` };
  return { storage: m[1]!, name: s[1]! };
}

/**
 * storage.cfg (PVE::SectionConfig): `type: id` at the start of a line opens a
 * section, indented `key value` lines are its properties, `#` starts a comment.
 */
export function parseStorageCfg(text: string): StorageTable {
  const table: StorageTable = {};
  let current: StorageEntry | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\r$/, "");
    if (/^\s*(#|$)/.test(line)) continue;
    const head = /^(\S+):\s*(\S+)\s*$/.exec(line);
    if (head) {
      current = { type: head[1]!, contentDirs: {} };
      table[head[2]!] = current;
      continue;
    }
    const prop = /^\s+(\S+)(?:\s+(.*?))?\s*$/.exec(line);
    if (!prop || !current) continue;
    const [, key, value = ""] = prop;
    if (key === "path") current.path = value;
    if (key === "content-dirs") {
      // Plugin.pm `decode_value`: a comma list of type=dir.
      for (const item of value.split(/[,;\s]+/).filter(Boolean)) {
        const eq = item.indexOf("=");
        if (eq > 0) current.contentDirs[item.slice(0, eq)] = item.slice(eq + 1);
      }
    }
  }
  return withForcedLocal(table);
}

/**
 * Plugin.pm `parse_config` "make sure we have a reasonable 'local:' storage":
 * unless `local` is a dir at /var/lib/vz (or without a path), it is replaced by
 * the default, which has no content-dirs.
 */
function withForcedLocal(table: StorageTable): StorageTable {
  const local = table.local;
  const keep = local && local.type === "dir" && (!local.path || local.path === LOCAL_STORAGE_PATH);
  return {
    ...table,
    local: keep
      ? { ...local, path: LOCAL_STORAGE_PATH }
      : { type: "dir", path: LOCAL_STORAGE_PATH, contentDirs: {} },
  };
}

export type Resolution = { path: string } | { error: string };

/**
 * The file a snippets volume id names on a node whose filesystem starts at
 * `rootDir` ("/" on a real node; a temp dir in tests).
 */
export function snippetPath(volid: string, storages: StorageTable, rootDir = "/"): Resolution {
  const vol = parseSnippetVolid(volid);
  if ("error" in vol) return vol;
  const entry = storages[vol.storage];
  if (!entry) return { error: `storage "${vol.storage}" of ${volid} is not in storage.cfg` };
  if (!PATH_TYPES.has(entry.type) || !entry.path) {
    return {
      error: `storage "${vol.storage}" (type ${entry.type}) has no snippets directory this tool can resolve; use a dir, nfs, cifs, cephfs or btrfs storage`,
    };
  }
  const subdir = entry.contentDirs.snippets ?? "snippets";
  return { path: join(rootDir, entry.path, subdir, vol.name) };
}

/** Our hookscript's volume id (--script) must be one we can check: one line naming the option. */
export function assertOurVolid(volid: string, storages: StorageTable): void {
  const where = snippetPath(volid, storages);
  if ("error" in where) throw new InputError(`--script: ${where.error}`);
}
