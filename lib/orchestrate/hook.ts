import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { forNode } from "../config/for-node.ts";
import type { LoadedConfig } from "../config/load.ts";
import { loadConfigFast } from "../config/load-fast.ts";
import type { Config } from "../config/types.ts";
import { isVmidText } from "../config/values.ts";
import { InputError, messageOf } from "../errors.ts";
import { runChainedHookscript } from "../hookscripts/chain.ts";
import { adoptJournalStream, createLogger, warnVia } from "../log/logger.ts";
import { boundLogFile, journalAvailable, workerLaunch } from "../log/worker-output.ts";
import { localNodeName } from "../node-name.ts";
import { openState, type State } from "../state/index.ts";
import { makeDirsSync } from "../state/make-dirs.ts";
import { type HookWork, hookWork } from "./pending.ts";

// The hookscript: Proxmox runs `<script> <vmid> <phase>` and waits for it,
// with no timeout, while a VM start or a live migration stands still. So
// every phase returns in milliseconds: it records what has to happen in the
// journal (so a crash loses nothing), starts a detached worker for the slow
// part, and exits. Only the target's stderr reaches a live migration's task
// log, so everything is written to stderr.
//
// Start-up time is part of that: the fast path loads only the config and the
// journal. The Proxmox client, DNS and the backends are imported dynamically,
// by strict pre-start and by the worker (esbuild keeps a dynamically imported
// module in the same single-file bundle but evaluates it only when imported).

export const PHASES = ["pre-start", "post-start", "pre-stop", "post-stop"] as const;
export type Phase = (typeof PHASES)[number];
export const WORKER_PHASE = "__worker";

/** What every phase needs: the config as seen by this node, and the journal. */
export interface HookContext {
  /** The full load with secrets; absent when the validated config came from the cache. */
  loaded?: LoadedConfig;
  /** The config with this node's paths ({node} replaced). */
  config: Config;
  self: string;
  state: State;
}

export interface HookEnv {
  env: NodeJS.ProcessEnv;
  /** How to start the detached worker for one VM and phase; tests may run it inline. */
  spawnWorker?: (ctx: HookContext, vmid: number, phase: HookWork["phase"]) => void;
}

// Timestamped lines in the task log; `<N>`-prefixed ones when the worker's stderr is the journal.
const say = createLogger();

/**
 * Starts this same script again as `<script> <vmid> __worker <phase>`,
 * detached: through systemd-cat into the journal when there is one, else
 * appending to stateDir/worker.log (bounded, and rotated by logrotate).
 */
export function spawnDetachedWorker(ctx: HookContext, vmid: number, phase: HookWork["phase"]): void {
  makeDirsSync(ctx.config.stateDir, { mode: 0o700 });
  const logFile = join(ctx.config.stateDir, "worker.log");
  const launch = workerLaunch(
    {
      argv: [process.execPath, ...process.execArgv, process.argv[1]!, String(vmid), WORKER_PHASE, phase],
      env: { ...process.env, PVEMIGRATE_DNS_NODE: ctx.self },
    },
    { journal: journalAvailable(process.env), logFile },
  );
  let fd: number | "ignore" = "ignore";
  if (launch.logFile) {
    boundLogFile(launch.logFile);
    fd = openSync(launch.logFile, "a", 0o600);
  }
  try {
    const child = spawn(launch.file, launch.args, {
      detached: true,
      stdio: ["ignore", fd, fd],
      env: launch.env,
    });
    child.unref();
  } finally {
    if (typeof fd === "number") closeSync(fd);
  }
}

/** Returns the exit code: non-zero only for bad arguments and for a strict pre-start refusal. */
export async function runHook(args: string[], opts: HookEnv): Promise<number> {
  const [vmidText, phase, workerOf] = args;
  // Before the first line: the worker's stderr may be the journal (systemd-cat).
  if (phase === WORKER_PHASE) adoptJournalStream(opts.env);
  if (!vmidText || !isVmidText(vmidText)) {
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
  let rt: HookContext;
  try {
    const fast = await loadConfigFast();
    const self = localNodeName(opts.env);
    if (!fast.config.nodes[self]) throw new InputError(`node "${self}" is not in the config's nodes`);
    const config = forNode(fast.config, self);
    rt = {
      ...(fast.loaded ? { loaded: fast.loaded } : {}),
      config,
      self,
      state: openState(config, { warn: warnVia(say) }),
    };
  } catch (err) {
    // A broken config must not keep VMs from starting; reconcile reports it too.
    say(`hook ${phase} VM ${vmid}: ${messageOf(err).split("\n").join("; ")}; doing nothing`, "warning");
    // A guest's chained hookscript still runs (pmxcfs at its usual place): see lib/hookscripts/chain.ts.
    return (await runChainedHookscript(vmid, phase, { pveRoot: "/etc/pve", env: opts.env, say })) ?? 0;
  }
  const chainedRefusal = await runChainedHookscript(vmid, phase, {
    pveRoot: rt.config.pveRoot,
    env: opts.env,
    say,
  });
  if (chainedRefusal !== undefined) return chainedRefusal;
  // A VM the file does not list may still be configured by its Notes block,
  // which only the API shows: its post-start/post-stop go to the worker, which
  // decides with the merged config (and does nothing for an unmanaged VM).
  const inFile = Boolean(rt.config.vms[String(vmid)]);
  if (!inFile && phase !== "post-start" && phase !== "post-stop" && phase !== WORKER_PHASE) return 0;
  const migratedFrom = opts.env.PVE_MIGRATED_FROM || undefined;

  try {
    switch (phase as Phase | typeof WORKER_PHASE) {
      case "pre-start":
        return await preStart(rt, vmid, migratedFrom);
      case "post-start":
      case "post-stop": {
        const work: HookWork = { vmid, phase: phase as HookWork["phase"] };
        // pre-start of the same start recorded the source moments ago; an older record is another event.
        const earlier =
          phase === "post-start"
            ? (await rt.state.local.list(hookWork)).find(
                (i) =>
                  i.payload.vmid === vmid &&
                  i.payload.phase === "post-start" &&
                  Date.now() - Date.parse(i.updatedAt) < 10 * 60_000,
              )?.payload
            : undefined;
        const from = migratedFrom ?? earlier?.migratedFrom;
        if (from && phase === "post-start") work.migratedFrom = from;
        await rt.state.local.record(hookWork, work);
        (opts.spawnWorker ?? spawnDetachedWorker)(rt, vmid, work.phase);
        if (inFile) {
          say(
            `VM ${vmid} ${phase}${from ? ` (migrating from ${from})` : ""}: switch recorded, finishing in the background`,
          );
        }
        return 0;
      }
      case "pre-stop":
        return 0;
      case WORKER_PHASE: {
        const [{ createRuntime }, { runHookWorker }, { loadConfig }, { recordEvents }, { recordRun }] =
          await Promise.all([
            import("./runtime.ts"),
            import("./worker.ts"),
            import("../config/load.ts"),
            import("../metrics/events.ts"),
            import("../metrics/collect.ts"),
          ]);
        const runtime = createRuntime(rt.loaded ?? (await loadConfig()), { node: rt.self });
        // The switch's duration and the UPDATEs it sent go into the node's metrics.
        const events = recordEvents();
        try {
          await runHookWorker(
            runtime,
            vmid,
            workerOf === "post-start" || workerOf === "post-stop" ? workerOf : undefined,
          );
          return 0;
        } catch (err) {
          runtime.log(`worker VM ${vmid}: ${messageOf(err)}`, "error");
          return 2;
        } finally {
          await recordRun(runtime, events);
        }
      }
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

/**
 * Strict pre-start asks the API while the start (or live migration) stands
 * still, and a hung pveproxy would hold it for the client's request timeout
 * per endpoint: after this long the start goes ahead unchecked.
 */
export const STRICT_CHECK_MS = 1000;

function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

async function preStart(rt: HookContext, vmid: number, migratedFrom: string | undefined): Promise<number> {
  if (migratedFrom) {
    // Remember the source now: post-start may run without the variable on some versions.
    await rt.state.local.record(hookWork, { vmid, phase: "post-start", migratedFrom });
  }
  if (!rt.config.strict) return 0;
  try {
    const [{ createProxmoxClient, getSnapshot }, { collisionsOnNode }, { loadSecrets }] = await Promise.all([
      import("../cluster/index.ts"),
      import("../desired/compute.ts"),
      import("../config/secrets.ts"),
    ]);
    const secrets = rt.loaded?.secrets ?? (await loadSecrets(rt.config)).secrets;
    if (!secrets) throw new Error("the secret files cannot be read (run pvemigrate-dns config check)");
    const proxmox = createProxmoxClient({ proxmox: rt.config.proxmox, tokenSecret: secrets.token });
    const snapshot = await within(getSnapshot(proxmox), STRICT_CHECK_MS, "the Proxmox API");
    const placements = snapshot.vms.map((v) => ({ vmid: v.vmid, node: v.node, status: v.status }));
    const collisions = collisionsOnNode(rt.config, vmid, rt.self, placements);
    if (collisions.length) {
      say(`refusing to start VM ${vmid} on ${rt.self} (strict): ${collisions.join("; ")}`, "error");
      return 1;
    }
  } catch (err) {
    say(`pre-start VM ${vmid}: cannot check collisions (${messageOf(err)}); starting anyway`, "warning");
  }
  return 0;
}
