import { hookViewOf } from "../config/hook-view.ts";
import { loadConfigFast } from "../config/load-fast.ts";
import { messageOf } from "../errors.ts";
import { type HookContext, type HookDeps, runHookWith, say, WORKER_PHASE } from "./hook-core.ts";
import { handOffTo } from "./hook-handoff.ts";
import type { HookWork } from "./pending.ts";

// The hook's full implementation: the CLI's hidden `hook` command (which the
// small hookscript bundle hands a phase to when its config cache misses, for
// strict pre-start, and for the worker) and in-process callers (tests). The
// phases themselves are in hook-core.ts, shared with the hookscript bundle.
//
// The Proxmox client, DNS and the backends are imported dynamically, by
// strict pre-start and by the worker only: a pre-start that missed the cache
// loads the config and nothing else.

export { type HookContext, PHASES, type Phase, WORKER_PHASE } from "./hook-core.ts";

export interface HookEnv {
  env: NodeJS.ProcessEnv;
  /** How to hand a recorded event to the worker; tests may run it inline. Default: hook service, else detached worker. */
  spawnWorker?: (ctx: HookContext, vmid: number, phase: HookWork["phase"]) => void;
}

/** Returns the exit code: non-zero only for bad arguments and for a strict pre-start refusal. */
export async function runHook(args: string[], opts: HookEnv): Promise<number> {
  // The CLI runs this as `<cli> hook ...`: its detached worker is the same command.
  const cli = [...process.execArgv, process.argv[1] ?? "", "hook"];
  const handOff = opts.spawnWorker
    ? async (ctx: HookContext, vmid: number, phase: HookWork["phase"]) => opts.spawnWorker?.(ctx, vmid, phase)
    : handOffTo(() => cli, opts.env);
  const deps: HookDeps = {
    env: opts.env,
    async loadConfig() {
      const fast = await loadConfigFast();
      return { ...fast, view: hookViewOf(fast.config) };
    },
    strictPreStart,
    worker: (vmid, phase) => runWorker(vmid, phase, opts.env),
    handOff,
  };
  return runHookWith(args, deps);
}

/** The worker's share of one recorded event, as the detached worker and the hook service run it. */
export async function runWorker(
  vmid: number,
  phase: HookWork["phase"] | undefined,
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const [
    { createRuntime },
    { runHookWorker },
    { loadConfig },
    { localNodeName },
    { recordEvents },
    { recordRun },
  ] = await Promise.all([
    import("./runtime.ts"),
    import("./worker.ts"),
    import("../config/load.ts"),
    import("../node-name.ts"),
    import("../metrics/events.ts"),
    import("../metrics/collect.ts"),
  ]);
  let runtime: ReturnType<typeof createRuntime>;
  try {
    runtime = createRuntime(await loadConfig(), { node: localNodeName(env) });
  } catch (err) {
    // As every phase says a broken config; the event stays journaled for reconcile.
    say(
      `hook ${WORKER_PHASE} VM ${vmid}: ${messageOf(err).split("\n").join("; ")}; doing nothing`,
      "warning",
    );
    return 0;
  }
  // The switch's duration and the UPDATEs it sent go into the node's metrics.
  const events = recordEvents();
  try {
    await runHookWorker(runtime, vmid, phase);
    return 0;
  } catch (err) {
    runtime.log(`worker VM ${vmid}: ${messageOf(err)}`, "error");
    return 2;
  } finally {
    await recordRun(runtime, events);
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

async function strictPreStart(rt: HookContext, vmid: number): Promise<number> {
  try {
    // runHook's loadConfig always loads it whole; the hookscript delegates strict pre-start here.
    const config = rt.config;
    if (!config) throw new Error("the config was not loaded whole");
    const [{ createProxmoxClient, getSnapshot }, { collisionsOnNode }, { loadSecrets }] = await Promise.all([
      import("../cluster/index.ts"),
      import("../desired/compute.ts"),
      import("../config/secrets.ts"),
    ]);
    const secrets = rt.loaded?.secrets ?? (await loadSecrets(config)).secrets;
    if (!secrets) throw new Error("the secret files cannot be read (run pvemigrate-dns config check)");
    const proxmox = createProxmoxClient({ proxmox: config.proxmox, tokenSecret: secrets.token });
    const snapshot = await within(getSnapshot(proxmox), STRICT_CHECK_MS, "the Proxmox API");
    const placements = snapshot.vms.map((v) => ({ vmid: v.vmid, node: v.node, status: v.status }));
    const collisions = collisionsOnNode(config, vmid, rt.self, placements);
    if (collisions.length) {
      say(`refusing to start VM ${vmid} on ${rt.self} (strict): ${collisions.join("; ")}`, "error");
      return 1;
    }
  } catch (err) {
    say(`pre-start VM ${vmid}: cannot check collisions (${messageOf(err)}); starting anyway`, "warning");
  }
  return 0;
}
