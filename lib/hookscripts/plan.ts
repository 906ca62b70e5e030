import type { GuestType } from "../cluster/types.ts";
import type { ChainRecord } from "./chain-record.ts";
import { type StorageTable, snippetPath } from "./volume.ts";

// PURE: what `hooks attach|detach` does to one guest, from its current
// `hookscript` and chain record. Another hookscript is never replaced
// silently: without --chain the guest is refused (and nothing at all is
// changed); with --chain it is remembered and our hook runs it first. Detach
// only ever removes our own hookscript, and puts a chained one back.
//
// The change is `qm set`/`pct set` as root on the guest's node: the API
// refuses `hookscript` to everyone but root@pam, tokens included (qemu-server
// API2/Qemu.pm `$check_vm_modify_config_perm`: the option is in no privilege
// group, so "only root can set 'hookscript' config"; pve-container LXC.pm
// `check_ct_modify_config_perm`: "changing the hookscript is only allowed for
// root@pam"; a token's user is `root@pam!name`, pve-access-control
// AccessControl.pm `verify_token`). `hookscript` is a fast-plug option
// (QemuServer.pm `$fast_plug_option`, LXC/Config.pm `$LXC_FASTPLUG_OPTIONS`):
// it takes effect at once, running or not.

export type HookAction = "attach" | "detach";
export type HookOwner = "ours" | "other" | "none";

/** One guest as read before acting. */
export interface GuestHooks {
  vmid: number;
  type: GuestType;
  node: string;
  /** The guest config's `hookscript`; undefined when it has none. */
  hookscript?: string;
  /** Our chain record for it (pmxcfs). */
  chain?: ChainRecord;
}

export interface PlanOptions {
  /** Our hookscript's volume id. */
  ours: string;
  /** --chain: keep another hookscript and run it first. */
  chain: boolean;
  storages: StorageTable;
  /** Where the chained script's file is looked up ("/" on a node). */
  rootDir: string;
  /** ISO time stamped on a new chain record. */
  now: string;
}

export type Step =
  | { kind: "keep"; vmid: number; message: string }
  | { kind: "refuse"; vmid: number; message: string }
  | {
      kind: "change";
      vmid: number;
      outcome: "attached" | "chained" | "detached" | "restored";
      /** The argv, tool first: `qm set <vmid> ...` (the tool's path is the executor's business). */
      argv: string[];
      /** Written before the tool runs (so our hook never runs without the script it must chain). */
      writeChain?: ChainRecord;
      /** Removed: before the tool runs on attach (stale), after it on detach. */
      dropChain: boolean;
      message: string;
    };

export function ownerOf(hookscript: string | undefined, ours: string): HookOwner {
  if (!hookscript) return "none";
  return hookscript === ours ? "ours" : "other";
}

export function toolOf(type: GuestType): "qm" | "pct" {
  return type === "lxc" ? "pct" : "qm";
}

const shown = (volid: string) => JSON.stringify(volid);

export function planGuest(g: GuestHooks, action: HookAction, opts: PlanOptions): Step {
  const owner = ownerOf(g.hookscript, opts.ours);
  const set = (...rest: string[]) => [toolOf(g.type), "set", String(g.vmid), ...rest];
  const vm = `VM ${g.vmid}`;
  if (action === "detach") {
    if (owner === "none") return { kind: "keep", vmid: g.vmid, message: `${vm} has no hookscript` };
    if (owner === "other") {
      return {
        kind: "keep",
        vmid: g.vmid,
        message: `${vm} has another hookscript, ${shown(g.hookscript!)}: not ours, left alone`,
      };
    }
    if (g.chain) {
      return {
        kind: "change",
        vmid: g.vmid,
        outcome: "restored",
        argv: set("--hookscript", g.chain.volid),
        dropChain: true,
        message: `${vm}: our hookscript replaced by the one it chained, ${shown(g.chain.volid)}`,
      };
    }
    return {
      kind: "change",
      vmid: g.vmid,
      outcome: "detached",
      argv: set("--delete", "hookscript"),
      dropChain: false,
      message: `${vm}: our hookscript removed`,
    };
  }
  if (owner === "ours") {
    const chained = g.chain ? `, chaining ${shown(g.chain.volid)}` : "";
    return { kind: "keep", vmid: g.vmid, message: `${vm} already has our hookscript${chained}` };
  }
  if (owner === "none") {
    return {
      kind: "change",
      vmid: g.vmid,
      outcome: "attached",
      argv: set("--hookscript", opts.ours),
      dropChain: Boolean(g.chain),
      message: `${vm}: our hookscript attached`,
    };
  }
  const other = g.hookscript!;
  if (!opts.chain) {
    return {
      kind: "refuse",
      vmid: g.vmid,
      message: `${vm} has another hookscript, ${shown(other)}: not replaced (--chain keeps it and runs it first; or leave ${vm} out)`,
    };
  }
  const where = snippetPath(other, opts.storages, opts.rootDir);
  if ("error" in where) {
    return { kind: "refuse", vmid: g.vmid, message: `${vm}: cannot chain its hookscript: ${where.error}` };
  }
  return {
    kind: "change",
    vmid: g.vmid,
    outcome: "chained",
    argv: set("--hookscript", opts.ours),
    writeChain: { vmid: g.vmid, volid: other, path: where.path, chainedAt: opts.now },
    dropChain: false,
    message: `${vm}: our hookscript attached; it runs ${shown(other)} first`,
  };
}
