import { forNode } from "../config/for-node.ts";
import { type HookView, hookViewForNode, viewListsVm } from "../config/hook-view.ts";
import type { LoadedConfig } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import { InputError, messageOf } from "../errors.ts";
import { runChainedHookscript } from "../hookscripts/chain.ts";
import { adoptJournalStream, createLogger, type Log, warnVia, writeStderrDirect } from "../log/logger.ts";
import { localNodeName } from "../node-name.ts";
import { recordLocalSync } from "../state/local-journal.ts";
import { type HookWork, hookWork } from "./pending.ts";

// The hookscript's phases, shared by its two implementations: the small
// hookscript bundle (hooks/hookscript.ts: config from the cache, nothing else
// loaded) and the CLI's hidden `hook` command (lib/orchestrate/hook.ts: full
// config load, strict pre-start, the worker). What the small one cannot do it
// hands to the CLI whole (`delegate`), before doing anything itself.
//
// Proxmox runs `<script> <vmid> <phase>` and waits for it, with no timeout,
// while a VM start or a live migration stands still (pve-guest-common
// GuestHelpers.pm exec_hookscript: run_command([$path, $vmid, $phase]); called
// by qemu-server QemuServer.pm vm_start_nolock for pre-start with
// $stop_on_error = 1, and for post-start, pre-stop, post-stop). So every phase
// records what has to happen in the journal (a crash loses nothing), hands the
// slow part to a worker, and exits. Only the target's stderr reaches a live
// migration's task log, so everything is written to stderr.

export const PHASES = ["pre-start", "post-start", "pre-stop", "post-stop"] as const;
export type Phase = (typeof PHASES)[number];
export const WORKER_PHASE = "__worker";

/** What every phase needs: the config as seen by this node, and its journal. */
export interface HookContext {
  /** The full load with secrets; absent when the validated config came from the cache. */
  loaded?: LoadedConfig;
  /** The whole config with this node's paths; only the CLI has it (the hookscript reads just the view). */
  config?: Config;
  /** What the phases act on, with this node's paths ({node} replaced). */
  view: HookView;
  self: string;
}

/** The config as a phase gets it: the hook's view, and the whole config where it was loaded. */
export interface HookConfig {
  view: HookView;
  config?: Config;
  loaded?: LoadedConfig;
}

export interface HookDeps {
  env: NodeJS.ProcessEnv;
  /** The config, or undefined when only the full load can tell (the cache missed). */
  loadConfig(): Promise<HookConfig | undefined>;
  /** Runs the whole hook in the full implementation; returns its exit code. */
  delegate?(args: string[]): Promise<number>;
  /** Strict pre-start's collision check; without it, a strict pre-start is delegated. */
  strictPreStart?(ctx: HookContext, vmid: number): Promise<number>;
  /** The worker (`<vmid> __worker <phase>`); without it, the worker is delegated. */
  worker?(vmid: number, phase: HookWork["phase"] | undefined): Promise<number>;
  /** Hands a recorded post-start/post-stop to the worker: the hook service, else a detached worker. */
  handOff(ctx: HookContext, vmid: number, phase: HookWork["phase"]): Promise<void>;
  /** Where the phase's lines go (default: the task log, `say`). */
  say?: Log;
}

// Timestamped lines in the task log; `<N>`-prefixed ones when the worker's stderr is the journal.
// Written to fd 2 directly: process.stderr on the task log's pipe would load node:net.
export const say = createLogger({ write: writeStderrDirect });
const sayToTaskLog = say;

const VMID = /^[1-9]\d{2,8}$/;
/** A pending post-start item younger than this was recorded by this start's pre-start. */
const EARLIER_MS = 10 * 60_000;

/** Returns the exit code: non-zero only for bad arguments and for a strict pre-start refusal. */
export async function runHookWith(args: string[], deps: HookDeps): Promise<number> {
  const [vmidText, phase, workerOf] = args;
  const say = deps.say ?? sayToTaskLog;
  // Before the first line: the worker's stderr may be the journal (systemd-cat).
  if (phase === WORKER_PHASE) adoptJournalStream(deps.env);
  if (!vmidText || !VMID.test(vmidText)) {
    say(
      `hook: vmid ${JSON.stringify(vmidText ?? "")} is not a VM id (usage: <script> <vmid> <phase>)`,
      "error",
    );
    return 1;
  }
  const vmid = Number(vmidText);
  if (phase !== WORKER_PHASE && !PHASES.includes(phase as Phase)) {
    say(`hook: phase ${JSON.stringify(phase ?? "")} is not one of ${PHASES.join(", ")}`, "error");
    return 1;
  }
  const delegate = () => {
    if (!deps.delegate) throw new Error("hook: no full implementation to hand this phase to");
    return deps.delegate(args);
  };
  if (phase === WORKER_PHASE) {
    const of = workerOf === "post-start" || workerOf === "post-stop" ? workerOf : undefined;
    return deps.worker ? deps.worker(vmid, of) : delegate();
  }
  let ctx: HookContext;
  try {
    const fast = await deps.loadConfig();
    if (!fast) return await delegate();
    // Before the chained script runs: the full implementation runs it itself.
    if (phase === "pre-start" && fast.view.strict && !deps.strictPreStart) return await delegate();
    const self = localNodeName(deps.env);
    if (!fast.view.nodes.includes(self)) throw new InputError(`node "${self}" is not in the config's nodes`);
    ctx = {
      ...(fast.loaded ? { loaded: fast.loaded } : {}),
      ...(fast.config ? { config: forNode(fast.config, self) } : {}),
      view: hookViewForNode(fast.view, self),
      self,
    };
  } catch (err) {
    // A broken config must not keep VMs from starting; reconcile reports it too.
    say(`hook ${phase} VM ${vmid}: ${messageOf(err).split("\n").join("; ")}; doing nothing`, "warning");
    // A guest's chained hookscript still runs (pmxcfs at its usual place): see lib/hookscripts/chain.ts.
    return (await runChainedHookscript(vmid, phase, { pveRoot: "/etc/pve", env: deps.env, say })) ?? 0;
  }
  const chainedRefusal = await runChainedHookscript(vmid, phase, {
    pveRoot: ctx.view.pveRoot,
    env: deps.env,
    say,
  });
  if (chainedRefusal !== undefined) return chainedRefusal;
  // A VM the file does not list may still be configured by its Notes block,
  // which only the API shows: its post-start/post-stop go to the worker, which
  // decides with the merged config (and does nothing for an unmanaged VM).
  const inFile = viewListsVm(ctx.view, vmid);
  if (!inFile && phase !== "post-start" && phase !== "post-stop") return 0;
  const migratedFrom = deps.env.PVE_MIGRATED_FROM || undefined;
  // Synchronous (local-journal.ts): durable before the hook exits, without a thread pool.
  const record = (phase: HookWork["phase"], payloadFor: (earlier: HookWork | undefined) => HookWork) =>
    recordLocalSync(
      ctx.view.stateDir,
      hookWork,
      hookWork.idOf({ vmid, phase }),
      (old) =>
        payloadFor(old && Date.now() - Date.parse(old.updatedAt) < EARLIER_MS ? old.payload : undefined),
      { warn: warnVia(say) },
    );

  try {
    switch (phase as Phase) {
      case "pre-start":
        if (migratedFrom) {
          // Remember the source now: post-start may run without the variable on some versions.
          record("post-start", () => ({ vmid, phase: "post-start", migratedFrom }));
        }
        if (!ctx.view.strict || !deps.strictPreStart) return 0;
        return await deps.strictPreStart(ctx, vmid);
      case "post-start":
      case "post-stop": {
        let from: string | undefined;
        // pre-start of the same start recorded the source moments ago in the item this one
        // replaces (read under the journal's lock); an older record is another event.
        const { payload: work } = record(phase as HookWork["phase"], (earlier) => {
          const w: HookWork = { vmid, phase: phase as HookWork["phase"] };
          from = migratedFrom ?? (phase === "post-start" ? earlier?.migratedFrom : undefined);
          if (from && phase === "post-start") w.migratedFrom = from;
          return w;
        });
        await deps.handOff(ctx, vmid, work.phase);
        if (inFile) {
          say(
            `VM ${vmid} ${phase}${from ? ` (migrating from ${from})` : ""}: switch recorded, finishing in the background`,
          );
        }
        return 0;
      }
      case "pre-stop":
        return 0;
    }
  } catch (err) {
    // Our own trouble (a state dir that cannot be written, say) must never
    // abort a start or a live migration (a failing pre-start does): one line
    // to the task log, exit 0; the timer's reconcile converges the VM.
    say(
      `hook ${phase} VM ${vmid}: ${messageOf(err).split("\n").join("; ")}; ignored, reconcile converges it`,
      "warning",
    );
    return 0;
  }
}
