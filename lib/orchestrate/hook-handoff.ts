import { closeSync, constants, fstatSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { makeDirsSync } from "../state/make-dirs.ts";
import type { HookContext } from "./hook-core.ts";
import { WORKER_PHASE } from "./hook-core.ts";
import type { HookWork } from "./pending.ts";

// How a hook phase hands its recorded work to the worker, without a second
// Node start while Proxmox waits: one line "<vmid> <phase>\n" written into the
// FIFO of pvemigrate-dns-hook.socket (packaging/systemd/; ListenFIFO=: systemd
// holds the FIFO open and starts pvemigrate-dns-hook.service once there is
// something to read, see hook-service.ts). The journal item was written
// before, so the line is only a wake-up: whatever happens to it, the work stays
// journaled for reconcile. Without a reader (no systemd unit, a tarball install
// with --no-enable, tests), a detached worker process does the same work:
// `<cli> hook <vmid> __worker <phase>`, logging to worker.log.
//
// A FIFO rather than a stream socket (the earlier design), measured: the poke
// through node:net loads net and the stream modules (~26 modules, ~22 M
// instructions under cachegrind, a quarter of a whole `node -e 0`) and waits
// for the event loop to connect; open + write + close of a FIFO are three
// synchronous system calls on node:fs, which every Node start has loaded. The
// guarantees are the same: opening a FIFO for writing without blocking fails
// with ENXIO when nobody holds it for reading (systemd does while the unit is
// active), ENOENT when there is none, and a full FIFO (a wedged service) fails
// the write with EAGAIN: each time the detached worker takes over.

/** The FIFO the hook service is woken through: ListenFIFO= of pvemigrate-dns-hook.socket. */
export const HOOK_FIFO = "/run/pvemigrate-dns/hook.fifo";

/** $PVEMIGRATE_DNS_HOOK_FIFO moves it (tests, benchmarks); "" or "none" turns the service off. */
export function hookFifoPath(env: NodeJS.ProcessEnv): string | undefined {
  const path = env.PVEMIGRATE_DNS_HOOK_FIFO ?? HOOK_FIFO;
  return path === "" || path === "none" ? undefined : path;
}

/** The wake-up line; hook-service.ts parses it back. Far below PIPE_BUF: written in one piece. */
export const pokeLine = (vmid: number, phase: HookWork["phase"]) => `${vmid} ${phase}\n`;

/** True once the line is in the FIFO; false when nothing reads it (ENXIO, ENOENT), it is full, or not a FIFO. */
export function pokeHookService(path: string, vmid: number, phase: HookWork["phase"]): boolean {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    return false;
  }
  try {
    // A regular file left at the path would swallow the line: only a FIFO has a reader to wake.
    if (!fstatSync(fd).isFIFO()) return false;
    const line = Buffer.from(pokeLine(vmid, phase));
    return writeSync(fd, line) === line.length;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

/**
 * Starts `<node> <cli...> <vmid> __worker <phase>`, detached: through
 * systemd-cat into the journal when there is one, else appending to
 * stateDir/worker.log (bounded, and rotated by logrotate).
 */
export async function spawnDetachedWorker(
  ctx: HookContext,
  cli: string[],
  vmid: number,
  phase: HookWork["phase"],
): Promise<void> {
  const [{ spawn }, { boundLogFile, journalAvailable, workerLaunch }] = await Promise.all([
    import("node:child_process"),
    import("../log/worker-output.ts"),
  ]);
  makeDirsSync(ctx.view.stateDir, { mode: 0o700 });
  const launch = workerLaunch(
    {
      argv: [process.execPath, ...cli, String(vmid), WORKER_PHASE, phase],
      env: { ...process.env, PVEMIGRATE_DNS_NODE: ctx.self },
    },
    { journal: journalAvailable(process.env), logFile: join(ctx.view.stateDir, "worker.log") },
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

/** The hook service when its FIFO has a reader, else a detached worker running `cli()` (asked only then). */
export function handOffTo(cli: () => string[], env: NodeJS.ProcessEnv) {
  return async (ctx: HookContext, vmid: number, phase: HookWork["phase"]): Promise<void> => {
    const fifo = hookFifoPath(env);
    if (fifo && pokeHookService(fifo, vmid, phase)) return;
    await spawnDetachedWorker(ctx, cli(), vmid, phase);
  };
}
