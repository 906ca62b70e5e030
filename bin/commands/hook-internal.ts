import type { Command } from "commander";
import { InputError } from "../../lib/errors.ts";

// Hidden commands of the hookscript's machinery, not for people:
//   hook <vmid> <phase>            the hook's full implementation: the small
//                                  hookscript bundle hands a phase here when
//                                  its config cache misses, for strict
//                                  pre-start, and `<vmid> __worker <phase>`
//                                  (its detached worker)
//   hook-service                   pvemigrate-dns-hook.service: finishes the
//                                  hooks' journaled work, started by systemd
//                                  when the hook socket unit's FIFO holds a wake-up
// Their code is imported when they run, so other commands never load it.

/** How long the hook service stays up with nothing to do before systemd watches the FIFO again. */
const SERVICE_IDLE_MS = 60_000;

export function registerHookInternalCommands(program: Command): void {
  program
    .command("hook", { hidden: true })
    .description("run one hookscript phase with the full implementation (used by the hookscript)")
    .argument("<vmid>")
    .argument("<phase>")
    .argument("[worker-phase]")
    .action(async (vmid: string, phase: string, workerPhase: string | undefined) => {
      const { runHook } = await import("../../lib/orchestrate/hook.ts");
      const code = await runHook([vmid, phase, ...(workerPhase ? [workerPhase] : [])], { env: process.env });
      // As the hookscript: exit now, not when a request abandoned at a deadline lets go.
      process.exit(code);
    });
  program
    .command("hook-service", { hidden: true })
    .description("finish the hooks' journaled work; started by systemd on pvemigrate-dns-hook.socket")
    .action(async () => {
      const [{ listenFd, serveHookFifo }, { runWorker }] = await Promise.all([
        import("../../lib/orchestrate/hook-service.ts"),
        import("../../lib/orchestrate/hook.ts"),
      ]);
      const fd = listenFd(process.env);
      if (typeof fd === "string") throw new InputError(`hook-service: ${fd}`);
      const log = (line: string) => process.stderr.write(`pvemigrate-dns hook-service: ${line}\n`);
      await serveHookFifo({
        fd,
        idleMs: Number(process.env.PVEMIGRATE_DNS_SERVICE_IDLE_MS) || SERVICE_IDLE_MS,
        log,
        handle: (vmid, phase) => runWorker(vmid, phase, process.env),
      });
      // Idle, nothing running: exit now (an HTTP keep-alive socket would hold the loop); systemd listens on.
      process.exit(0);
    });
}
