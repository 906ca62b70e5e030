import { join } from "node:path";
import { makeDirsSync } from "../state/make-dirs.ts";
import type { HookContext } from "./hook-core.ts";
import { WORKER_PHASE } from "./hook-core.ts";
import type { HookWork } from "./pending.ts";

// How a hook phase hands its recorded work to the worker, without a second
// Node start while Proxmox waits: one connect to the hook service's unix
// socket (packaging/systemd/pvemigrate-dns-hook.socket; systemd listens on it
// and starts pvemigrate-dns-hook.service on the first connection, see
// hook-service.ts), one line "<vmid> <phase>\n", done. The journal item was
// written before, so the line is only a wake-up: whatever happens to it, the
// work stays journaled for reconcile. Without the socket (no systemd unit, a
// tarball install with --no-enable, tests), a detached worker process does
// the same work: `<cli> hook <vmid> __worker <phase>`, logging to worker.log.

/** Where the hook service listens: ListenStream= of pvemigrate-dns-hook.socket. */
export const HOOK_SOCKET = "/run/pvemigrate-dns/hook.sock";

/** $PVEMIGRATE_DNS_HOOK_SOCKET moves it (tests, benchmarks); "" or "none" turns the service off. */
export function hookSocketPath(env: NodeJS.ProcessEnv): string | undefined {
  const path = env.PVEMIGRATE_DNS_HOOK_SOCKET ?? HOOK_SOCKET;
  return path === "" || path === "none" ? undefined : path;
}

/** The wake-up line; hook-service.ts parses it back. */
export const pokeLine = (vmid: number, phase: HookWork["phase"]) => `${vmid} ${phase}\n`;

/** A connect that neither succeeds nor fails this fast means a wedged listener: use the fallback. */
const POKE_TIMEOUT_MS = 500;

/** True once the line is in the socket; false when nothing listens (ENOENT, ECONNREFUSED, ...). */
export async function pokeHookService(
  path: string,
  vmid: number,
  phase: HookWork["phase"],
): Promise<boolean> {
  // Loaded here, not at the top: pre-start and pre-stop never pay for node:net.
  const { connect } = await import("node:net");
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (ok) socket.end();
      else socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), POKE_TIMEOUT_MS);
    const socket = connect(path);
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write(pokeLine(vmid, phase), (err) => done(!err)));
  });
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
  const [{ spawn }, { closeSync, openSync }, { boundLogFile, journalAvailable, workerLaunch }] =
    await Promise.all([import("node:child_process"), import("node:fs"), import("../log/worker-output.ts")]);
  makeDirsSync(ctx.config.stateDir, { mode: 0o700 });
  const launch = workerLaunch(
    {
      argv: [process.execPath, ...cli, String(vmid), WORKER_PHASE, phase],
      env: { ...process.env, PVEMIGRATE_DNS_NODE: ctx.self },
    },
    { journal: journalAvailable(process.env), logFile: join(ctx.config.stateDir, "worker.log") },
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

/** The hook service when its socket answers, else a detached worker running `cli`. */
export function handOffTo(cli: string[], env: NodeJS.ProcessEnv) {
  return async (ctx: HookContext, vmid: number, phase: HookWork["phase"]): Promise<void> => {
    const socket = hookSocketPath(env);
    if (socket && (await pokeHookService(socket, vmid, phase))) return;
    await spawnDetachedWorker(ctx, cli, vmid, phase);
  };
}
