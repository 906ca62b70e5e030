import { fstatSync } from "node:fs";
import { Socket } from "node:net";
import type { HookWork } from "./pending.ts";

// The hook service: what pvemigrate-dns-hook.service runs (`pvemigrate-dns
// hook-service`). systemd holds the FIFO of pvemigrate-dns-hook.socket
// (ListenFIFO=, opened for reading and writing, so it never reads EOF) and
// starts the service once the FIFO holds something, passing it as fd 3 with
// LISTEN_FDS=1 and LISTEN_PID=<its pid> (sd_listen_fds(3)). Each line is one
// hook's wake-up "<vmid> <phase>\n" (hook-handoff.ts; one write each, so lines
// never interleave); the work itself is already in the journal, and the
// service finishes it exactly as the detached worker would (`handle` is
// hook.ts runWorker: worker.ts runHookWorker), one VM's events concurrently
// with another's. Idle for a while, it exits; systemd keeps the FIFO open, and
// starts it again when the next line arrives (lines written meanwhile wait in it).

/** The first fd systemd passes (SD_LISTEN_FDS_START). */
const LISTEN_FDS_START = 3;

/** The fd systemd passed us, or a one-line reason why there is none (sd_listen_fds' checks). */
export function listenFd(env: NodeJS.ProcessEnv, pid = process.pid): number | string {
  if (env.LISTEN_PID !== String(pid))
    return `LISTEN_PID is ${JSON.stringify(env.LISTEN_PID ?? "")}, not this process (${pid}): not started by socket activation`;
  if (env.LISTEN_FDS !== "1")
    return `LISTEN_FDS is ${JSON.stringify(env.LISTEN_FDS ?? "")}; expected exactly 1 socket`;
  return LISTEN_FDS_START;
}

const LINE = /^([1-9]\d{2,8}) (post-start|post-stop)\n?$/;
/** A wake-up line is ~20 bytes; anything longer is not ours. */
const MAX_LINE = 64;

/** PURE: the event named by a wake-up line, or undefined. */
export function parsePoke(text: string): { vmid: number; phase: HookWork["phase"] } | undefined {
  const m = LINE.exec(text);
  return m ? { vmid: Number(m[1]), phase: m[2] as HookWork["phase"] } : undefined;
}

export interface ServeOptions {
  fd: number;
  /** Finishes one VM's recorded event (the detached worker's job). */
  handle(vmid: number, phase: HookWork["phase"]): Promise<unknown>;
  log(line: string): void;
  /** Exit after this long with nothing running and no connection. */
  idleMs: number;
}

/** Serves wake-ups until idle; resolves once it stopped reading the FIFO. */
export function serveHookFifo(opts: ServeOptions): Promise<void> {
  if (!fstatSync(opts.fd).isFIFO())
    return Promise.reject(new Error(`fd ${opts.fd} is not a FIFO (the socket unit must use ListenFIFO=)`));
  // key -> whether another wake-up came while it ran (the journal may hold a newer intent)
  const running = new Map<string, { again: boolean }>();
  let idle: NodeJS.Timeout | undefined;
  // The FIFO as a stream (libuv reads it without blocking); writable: false, we only read.
  const fifo = new Socket({ fd: opts.fd, readable: true, writable: false });
  const armIdle = () => {
    clearTimeout(idle);
    if (running.size === 0) idle = setTimeout(() => fifo.destroy(), opts.idleMs);
  };
  const run = (vmid: number, phase: HookWork["phase"]) => {
    const key = `${vmid} ${phase}`;
    const entry = running.get(key);
    if (entry) {
      entry.again = true;
      return;
    }
    const mine = { again: false };
    running.set(key, mine);
    clearTimeout(idle);
    void (async () => {
      do {
        mine.again = false;
        await opts
          .handle(vmid, phase)
          .catch((err: unknown) => opts.log(`VM ${vmid} ${phase}: ${String(err)}`));
      } while (mine.again);
      running.delete(key);
      armIdle();
    })();
  };
  let pending = "";
  const onData = (chunk: string) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    // A partial line longer than any wake-up is not ours: drop it rather than grow.
    if (pending.length > MAX_LINE) pending = "";
    for (const line of lines) {
      const event = line.length <= MAX_LINE ? parsePoke(line) : undefined;
      if (event) run(event.vmid, event.phase);
      else opts.log(`ignored a wake-up that is not "<vmid> post-start|post-stop" (${line.length} bytes)`);
    }
  };
  return new Promise((resolve, reject) => {
    fifo.setEncoding("utf8");
    fifo.on("data", onData);
    fifo.on("error", reject);
    fifo.on("close", () => {
      clearTimeout(idle);
      resolve();
    });
    armIdle();
  });
}
