import { realpath, stat } from "node:fs/promises";
import { messageOf } from "../errors.ts";
import type { RunResult } from "../process/run.ts";
import { readChainRecord } from "./chain-record.ts";

// The hook's side of `hooks attach --chain`: before our own work, run the
// guest's previous hookscript exactly as Proxmox would have run it
// (pve-guest-common GuestHelpers.pm `exec_hookscript`): `check_hookscript`
// first (the file must exist and be executable), then `run_command([$path,
// $vmid, $phase])`: an argument array, our environment as it came from
// Proxmox, its stdout and stderr straight into the task log. Only pre-start
// passes `$stop_on_error` (qemu-server QemuServer.pm, pve-container LXC.pm):
// there a failure aborts the start, so our hook exits with the chained
// script's code; in the other phases Proxmox only warns, and so do we.

const PHASES = new Set(["pre-start", "post-start", "pre-stop", "post-stop"]);

export interface ChainRunOptions {
  /** Where pmxcfs is mounted (config `pveRoot`). */
  pveRoot: string;
  /** The environment Proxmox gave the hook; the chained script gets it unchanged. */
  env: NodeJS.ProcessEnv;
  say(line: string): void;
}

/** Perl's `-f` and, as root, `-x` (any execute bit) of check_hookscript. */
async function checkScript(path: string): Promise<"ok" | "does not exist" | "is not executable"> {
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile()) return "does not exist";
  return (st.mode & 0o111) === 0 ? "is not executable" : "ok";
}

/** A record naming this very script would call itself forever. */
async function isSelf(path: string): Promise<boolean> {
  const self = process.argv[1];
  if (!self) return false;
  const [a, b] = await Promise.all([realpath(path).catch(() => path), realpath(self).catch(() => self)]);
  return a === b;
}

/**
 * Runs the guest's chained hookscript when it has one. Returns the code the
 * hook must exit with now (the chained script failed pre-start: the start is
 * aborted, as it would have been), or undefined to go on with our own phase.
 */
export async function runChainedHookscript(
  vmid: number,
  phase: string | undefined,
  opts: ChainRunOptions,
): Promise<number | undefined> {
  if (!phase || !PHASES.has(phase)) return undefined;
  const read = readChainRecord(opts.pveRoot, vmid);
  if (read.kind === "none") return undefined;
  if (read.kind === "bad") {
    opts.say(`hook ${phase} VM ${vmid}: chained hookscript not run: ${read.error}`);
    return undefined;
  }
  const { volid, path } = read.record;
  const stopOnError = phase === "pre-start";
  // GuestHelpers `exec_hookscript`'s message, so the task log reads as it would have.
  const failed = (why: string, code: number) => {
    opts.say(`hookscript error for ${vmid} on ${phase}: ${why} (chained ${JSON.stringify(volid)})`);
    return stopOnError ? code : undefined;
  };
  if (await isSelf(path)) {
    opts.say(`hook ${phase} VM ${vmid}: chained hookscript ${JSON.stringify(volid)} is this script; not run`);
    return undefined;
  }
  const check = await checkScript(path);
  if (check !== "ok") return failed(`script '${volid}' ${check}`, 1);
  let r: RunResult;
  try {
    // Imported here: a guest without a chained script (nearly all) never loads node:child_process.
    const { run } = await import("../process/run.ts");
    r = await run([path, String(vmid), phase], { env: opts.env, passthrough: true });
  } catch (err) {
    return failed(`command '${path} ${vmid} ${phase}' failed: ${messageOf(err)}`, 1);
  }
  if (r.code === 0) return undefined;
  const how = r.code === null ? `got signal ${r.signal}` : `exit code ${r.code}`;
  return failed(how, r.code || 1);
}
