import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode } from "../errors.ts";
import { parseStorageCfg, type StorageTable } from "./volume.ts";

// The node-side facts `hooks` needs: the storages (pmxcfs storage.cfg), the
// state of a hookscript file on this node, and which qm/pct to run.

/** `<pveRoot>/storage.cfg`; a missing file is PVE's default (only `local`). */
export async function readStorages(pveRoot: string): Promise<StorageTable> {
  const text = await readFile(join(pveRoot, "storage.cfg"), "utf8").catch((err: unknown) => {
    if (errnoCode(err) === "ENOENT") return "";
    throw err;
  });
  return parseStorageCfg(text);
}

export type FileState = "ok" | "missing" | "not-executable" | "unknown";

export interface FileCheck {
  state: FileState;
  path?: string;
  /** Why the state is unknown, or where it was checked. */
  detail?: string;
}

/** check_hookscript's test (pve-guest-common GuestHelpers.pm): `-f` and, as root, `-x` (any execute bit). */
export async function checkFile(path: string): Promise<FileCheck> {
  try {
    const st = await stat(path);
    if (!st.isFile()) return { state: "missing", path, detail: "not a regular file" };
    return { state: (st.mode & 0o111) === 0 ? "not-executable" : "ok", path };
  } catch (err) {
    const code = errnoCode(err);
    if (code === "ENOENT" || code === "ENOTDIR") return { state: "missing", path };
    return { state: "unknown", path, detail: `cannot stat it (${code ?? "error"})` };
  }
}

/** `--root` for one node: "{node}" stands for its name (tests give each simulated node its own tree). */
export function rootFor(rootDir: string, node: string): string {
  return rootDir.replaceAll("{node}", node);
}

/**
 * The qm and pct binaries: Proxmox installs them in /usr/sbin (not on every
 * caller's PATH); PVEMIGRATE_DNS_QM / PVEMIGRATE_DNS_PCT replace them (tests
 * put a fake that records its argv there).
 */
export function toolPath(tool: "qm" | "pct", env: NodeJS.ProcessEnv = process.env): string {
  const override = tool === "qm" ? env.PVEMIGRATE_DNS_QM : env.PVEMIGRATE_DNS_PCT;
  return override || `/usr/sbin/${tool}`;
}
