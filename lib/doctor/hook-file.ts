import { DEFAULT_CONFIG_PATH } from "../config/types.ts";
import { type Finding, fail, ok, warn } from "./types.ts";

// PURE: what doctor concludes about the hookscript FILE on a node. Proxmox
// runs it for every start of a guest that names it (pve-guest-common
// PVE::GuestHelpers::exec_hookscript): check_hookscript dies when the file is
// missing or not executable, and run_command dies on a non-zero exit; for
// pre-start (qemu-server vm_start_nolock, pve-container vm_start:
// exec_hookscript(..., 'pre-start', 1)) that aborts the start, the live
// migration to this node and an HA recovery here. An interpreter that cannot
// be found under Proxmox's PATH is such a non-zero exit (127).

/** Where packaging/install.sh puts it: storage `local`'s snippets (`local:snippets/pvemigrate-dns.mjs`). */
export const HOOK_FILE = "/var/lib/vz/snippets/pvemigrate-dns.mjs";

/**
 * Proxmox's environment for a hookscript: PATH from pve-common PVE::CLIHandler
 * and PVE::Daemon (qm/pct, pvedaemon, the HA LRM), LC_ALL=C from PVE::Cmd::run
 * (which run_command calls). stdin is a pipe closed at once.
 */
export const PROXMOX_HOOK_ENV = { PATH: "/sbin:/bin:/usr/sbin:/usr/bin", LC_ALL: "C" } as const;

/** The first line of the no-op `install.sh --uninstall` leaves in place of the hookscript. */
export const NOOP_MARKER = "# pvemigrate-dns: uninstalled;";

/** How long a probe may take: a cold start takes about a second; this only catches a hook that hangs. */
export const PROBE_TIMEOUT_MS = 20_000;

/**
 * A VMID the config does not manage. The hook's pre-start returns for it right
 * after loading the config, before any state, lock or peer is touched, so the
 * probe changes nothing (Notes blocks only count in post-start/post-stop).
 */
export function unmanagedVmid(vms: Readonly<Record<string, unknown>>): number {
  let id = 999_999_999;
  while (vms[String(id)] !== undefined) id--;
  return id;
}

/**
 * The environment of the probe: Proxmox's, plus the config path and node name
 * only where doctor was told to act as something the hook would not find on
 * its own (`--config`, `--node`), and the test suite's config cache dir (never
 * set on a node); on a node run plainly it is exactly Proxmox's.
 */
export function probeEnv(
  act: { configPath: string; node: string; cacheDir?: string | undefined },
  hookWouldUse: { configPath: string; node: string },
): Record<string, string> {
  return {
    ...PROXMOX_HOOK_ENV,
    ...(act.cacheDir ? { PVEMIGRATE_DNS_CACHE_DIR: act.cacheDir } : {}),
    ...(act.configPath === hookWouldUse.configPath ? {} : { PVEMIGRATE_DNS_CONFIG: act.configPath }),
    ...(act.node === hookWouldUse.node ? {} : { PVEMIGRATE_DNS_NODE: act.node }),
  };
}

/** What was found: the file's status, then how it behaved when run like Proxmox runs it. */
export type HookFileProbe =
  | { kind: "missing" }
  | { kind: "not-a-file" }
  | { kind: "not-executable"; mode: number }
  | { kind: "unreadable"; error: string }
  /** spawn itself failed: ENOENT for a #! interpreter that does not exist, EACCES, ENOEXEC. */
  | { kind: "spawn-error"; error: string; firstLine: string }
  | {
      kind: "ran";
      firstLine: string;
      code: number | null;
      signal: string | null;
      stderr: string;
      vmid: number;
      /** The file is the no-op `install.sh --uninstall` leaves (its second line is NOOP_MARKER...). */
      noop: boolean;
    };

/** One line of at most 300 characters: a hook's stderr can be long. */
function oneLine(text: string): string {
  const line = text.trim().split("\n").join(" | ");
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}

export function judgeHookFile(node: string, file: string, probe: HookFileProbe): Finding {
  const at = `${node}: ${file}`;
  const install = `run packaging/install.sh on ${node}`;
  const refused =
    "Proxmox refuses to start, migrate here or HA-recover here every guest whose hookscript it is";
  const reinstall = `${install} again: it writes the absolute path of a working node into the first line`;
  switch (probe.kind) {
    case "missing":
      return fail("hookscript-file", `${at} does not exist: ${refused}`, install);
    case "not-a-file":
      return fail("hookscript-file", `${at} is not a regular file: ${refused}`, install);
    case "not-executable":
      return fail(
        "hookscript-file",
        `${at} is not executable (mode ${probe.mode.toString(8).padStart(3, "0")}): ${refused}`,
        `chmod 755 ${file}, or ${install}`,
      );
    case "unreadable":
      return fail("hookscript-file", `${at} cannot be checked: ${probe.error}`, `check ${file} as root`);
    case "spawn-error":
      return fail(
        "hookscript-file",
        `${at} does not start (${probe.error}; first line ${JSON.stringify(probe.firstLine)}): ${refused}`,
        reinstall,
      );
    case "ran": {
      const said = oneLine(probe.stderr);
      if (probe.code === null) {
        return fail(
          "hookscript-file",
          `${at} did not exit within ${PROBE_TIMEOUT_MS / 1000} s (${probe.signal ?? "killed"}): every start here would wait for it`,
          `run ${file} ${probe.vmid} pre-start by hand to see where it hangs`,
        );
      }
      if (probe.code === 126 || probe.code === 127) {
        return fail(
          "hookscript-file",
          `${at} does not start under PATH=${PROXMOX_HOOK_ENV.PATH} (exit ${probe.code}: ${said}; first line ${JSON.stringify(probe.firstLine)}): ${refused}`,
          reinstall,
        );
      }
      if (probe.code !== 0) {
        return fail(
          "hookscript-file",
          `${at} exits ${probe.code} in pre-start of unmanaged VM ${probe.vmid} (${said}): Proxmox would abort starts`,
          reinstall,
        );
      }
      if (probe.noop) {
        return warn(
          "hookscript-file",
          `${at} is the no-op left by install.sh --uninstall: guests starting here are followed only by the reconcile timer`,
          install,
        );
      }
      if (said !== "") {
        return warn(
          "hookscript-file",
          `${at} starts, but says: ${said}`,
          `as Proxmox runs it, the hook reads ${DEFAULT_CONFIG_PATH} and takes the hostname as node name: fix what it says`,
        );
      }
      return ok(
        "hookscript-file",
        `${at} starts as Proxmox runs it (PATH=${PROXMOX_HOOK_ENV.PATH}, ${probe.firstLine})`,
      );
    }
  }
}
