import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { run } from "../process/run.ts";

// The demo leaves nothing behind, however it ends: its temp dir, its network
// namespaces and its named child are registered here as they are created,
// and undone when the scenario returns or throws, and also on Ctrl-C
// (SIGINT), SIGTERM, SIGHUP and a closed stdout (`demo | head -1`: Node
// ignores SIGPIPE, so the next write fails with EPIPE instead; unhandled,
// that error kills the process with everything still in place).

export interface Cleanups {
  /** Registers an undo step (run at once when a cleanup already ran). Steps must be idempotent: they may run more than once. */
  add(undo: () => Promise<unknown>): void;
  /** Runs every undo step, newest first; a failing one does not stop the others. Runs never overlap. */
  run(): Promise<void>;
}

const noop = () => {};

export function createCleanups(): Cleanups {
  const steps: Array<() => Promise<unknown>> = [];
  let last: Promise<void> = Promise.resolve();
  let ran = false;
  return {
    add: (undo) => {
      steps.push(undo);
      // Registered after a cleanup already ran (an interrupt came while named
      // was still starting): undo it at once, so no later run can miss it.
      if (ran) last = last.then(() => undo().then(noop, noop));
    },
    run() {
      ran = true;
      last = last.then(async () => {
        for (const undo of [...steps].reverse()) await undo().catch(noop);
      });
      return last;
    },
  };
}

/**
 * Deletes every network namespace whose name starts with `prefix`: also one
 * the scenario re-created (a node coming back) or was creating when the
 * signal came.
 */
export async function deleteNamespaces(prefix: string): Promise<void> {
  const listed = await run(["ip", "netns", "list"]).catch(() => undefined);
  const names = (listed?.stdout ?? "").split("\n").map((line) => line.split(" ")[0] ?? "");
  for (const name of names.filter((n) => n.startsWith(prefix))) {
    await run(["ip", "netns", "del", name]).catch(noop);
  }
}

/**
 * SIGKILLs every process of this host whose command line mentions `dir`
 * (the demo's detached hook workers run the CLI copied there), never this
 * process. Linux /proc; a process gone meanwhile is skipped.
 */
export function killProcessesMentioning(dir: string): void {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(dir))
        process.kill(Number(entry), "SIGKILL");
    } catch {} // gone meanwhile, or not ours to signal
  }
}

/** Exit codes of an interrupted demo: 128 + the signal's number, as a shell reports a process killed by it. */
export const INTERRUPT_EXIT = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143, EPIPE: 141 } as const;
type Reason = keyof typeof INTERRUPT_EXIT;

/** How long an interrupted scenario gets to unwind (it may still write state) before the final cleanup. */
export const SETTLE_MS = 5000;

export interface InterruptIo {
  stdout: NodeJS.WriteStream;
  /** Where "interrupted: cleaning up" goes (stderr). */
  note(line: string): void;
  exit(code: number): void;
}

export interface InterruptGuard {
  readonly interrupted: boolean;
  /**
   * False once interrupted: nothing more is printed (stdout may be gone). The
   * scenario is not stopped by a throw: its background hook workers print
   * too, and an error thrown there would end the process before the cleanup.
   */
  readonly writable: boolean;
  /** The scenario: the final cleanup waits (at most SETTLE_MS) for it to unwind. */
  watch(scenario: Promise<unknown>): void;
  /** Resolves never: the process exits with the interrupt's code once everything is undone. */
  exiting(): Promise<never>;
  /** Removes the handlers (the scenario ended by itself). */
  stop(): void;
}

/**
 * Installs the handlers. On a signal or EPIPE: undo everything at once (the
 * peers go away, so the scenario fails fast), let the scenario run out (at
 * most SETTLE_MS), undo again whatever it wrote meanwhile, then exit with
 * INTERRUPT_EXIT's code. A
 * second signal while cleaning up is ignored (every step is bounded: named is
 * killed after 3 s).
 */
export function guardInterrupts(cleanups: Cleanups, io: InterruptIo): InterruptGuard {
  let reason: Reason | undefined;
  let scenario: Promise<unknown> = Promise.resolve();
  let exiting: Promise<never> | undefined;
  const finish = (why: Reason) => {
    if (reason) return;
    reason = why;
    if (why !== "EPIPE") io.note(`demo: ${why}: cleaning up (namespaces, temp dir, named)`);
    exiting = (async () => {
      await cleanups.run();
      await Promise.race([scenario.catch(noop), delay(SETTLE_MS)]);
      await cleanups.run();
      io.exit(INTERRUPT_EXIT[why]);
      return new Promise<never>(noop);
    })();
  };
  const handlers = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map(
    (signal) => [signal, () => finish(signal)] as const,
  );
  for (const [signal, handler] of handlers) process.on(signal, handler);
  const onError = (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") throw err;
    finish("EPIPE");
  };
  io.stdout.on("error", onError);
  return {
    get interrupted() {
      return reason !== undefined;
    },
    get writable() {
      return reason === undefined;
    },
    watch(p) {
      scenario = p;
    },
    exiting: () => exiting ?? new Promise<never>(noop),
    stop() {
      for (const [signal, handler] of handlers) process.off(signal, handler);
      io.stdout.off("error", onError);
    },
  };
}
