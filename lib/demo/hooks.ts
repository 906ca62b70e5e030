import type { LoadedConfig } from "../config/load.ts";
import { messageOf } from "../errors.ts";
import { hookWork } from "../orchestrate/pending.ts";
import { createRuntime } from "../orchestrate/runtime.ts";
import { runHookWorker } from "../orchestrate/worker.ts";
import type { SimCluster } from "../sim/cluster.ts";

// The demo's hookscript: Proxmox runs it where it starts or stops a guest
// (a live migration's target, the node whose LRM starts an HA-recovered
// guest); the sim says when. The hook's work, a journal record and its
// worker, runs in this process with the worker's log lines shown, so the
// demo shows which node acted on which event.

export interface InProcessHooks {
  /** Resolves once every worker started so far (and any they led to) finished. */
  done(): Promise<void>;
}

export function runHooksInProcess(
  sim: SimCluster,
  loaded: LoadedConfig,
  out: (line: string) => void,
): InProcessHooks {
  const runs: Array<Promise<void>> = [];
  sim.setHookListener((e) => {
    const env = e.migratedFrom ? ` (PVE_MIGRATED_FROM=${e.migratedFrom})` : "";
    out(`   ${e.node}: Proxmox runs the hookscript: ${e.vmid} ${e.phase}${env}`);
    const phase = e.phase;
    if (phase !== "post-start" && phase !== "post-stop") return;
    const worker = createRuntime(loaded, { node: e.node, log: (l) => out(`   ${e.node} hook worker: ${l}`) });
    runs.push(
      (async () => {
        const work = { vmid: e.vmid, phase, ...(e.migratedFrom ? { migratedFrom: e.migratedFrom } : {}) };
        await worker.state.local.record(hookWork, work);
        await runHookWorker(worker, e.vmid, phase);
        out(`   ${e.node} hook worker: VM ${e.vmid} ${phase} finished`);
      })().catch((err: unknown) => out(`   ${e.node} hook worker: ${messageOf(err)}`)),
    );
  });
  return {
    async done() {
      while (runs.length) await Promise.all(runs.splice(0));
    },
  };
}
