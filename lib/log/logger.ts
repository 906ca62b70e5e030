import { fstatSync, writeSync } from "node:fs";
import { formatLines, type LogLevel, type LogTarget, stderrIsJournal } from "./format.ts";

// The one logger every part of the tool writes through: the CLI, the timer's
// reconcile, the hookscript and its detached worker. It writes to stderr
// synchronously (a hook exits right after its last line; the worker may be
// killed), formats per lib/log/format.ts, and decides once per process whether
// stderr is the journal. Debug lines are written only with
// PVEMIGRATE_DNS_DEBUG=1 (journald could filter them, a terminal cannot).

export type { LogLevel } from "./format.ts";

/** A log function: `log(line)` is information, the second argument says otherwise. */
export type Log = (line: string, level?: LogLevel) => void;

export interface LoggerOptions {
  /** Which node the process acts as, shown in stream lines: `pvemigrate-dns[pve1]`. */
  node?: string;
  env?: NodeJS.ProcessEnv;
  /** Where lines go (default: stderr, written synchronously). */
  write?: (text: string) => void;
  now?: () => number;
  /** Override the detection (tests). */
  target?: LogTarget;
}

let detected: LogTarget | undefined;

/** Whether this process's stderr is the journal (see stderrIsJournal); asked once. */
export function stderrTarget(env: NodeJS.ProcessEnv = process.env): LogTarget {
  if (detected) return detected;
  let stat: { dev: bigint; ino: bigint } | undefined;
  try {
    stat = fstatSync(2, { bigint: true });
  } catch {
    stat = undefined;
  }
  detected = stderrIsJournal(env.JOURNAL_STREAM, stat) ? "journal" : "stream";
  return detected;
}

/**
 * The hook's worker runs under systemd-cat (lib/orchestrate/worker-spawn.ts),
 * whose stderr IS a journal stream, but systemd-cat before v256 does not set
 * JOURNAL_STREAM: the hook says so with PVEMIGRATE_DNS_STDERR_JOURNAL=1, and
 * the worker turns that into the JOURNAL_STREAM newer systemd-cat sets itself
 * (its fd 2's dev:inode), so its children judge their own stderr correctly.
 * The variable is consumed: children never see it.
 */
export function adoptJournalStream(env: NodeJS.ProcessEnv = process.env): void {
  if (env.PVEMIGRATE_DNS_STDERR_JOURNAL !== "1") return;
  delete env.PVEMIGRATE_DNS_STDERR_JOURNAL;
  try {
    const st = fstatSync(2, { bigint: true });
    env.JOURNAL_STREAM = `${st.dev}:${st.ino}`;
    detected = undefined;
  } catch {
    // No fd 2: nothing to describe.
  }
}

function writeStderr(text: string): void {
  try {
    // Synchronous for files and pipes; a closed stderr must not crash the run.
    process.stderr.write(text);
  } catch {
    // Nowhere to say it.
  }
}

let viaStream = false;

/**
 * A `write` for the hookscript's logger: straight to fd 2 while it takes the
 * whole line, because process.stderr on a pipe (a hook's task log) loads
 * node:net and the stream modules first, a few ms of every hook phase. Once a
 * write is short (a non-blocking fd that is full) the rest, and everything
 * after it, goes through process.stderr, which queues instead, keeping the order.
 */
export function writeStderrDirect(text: string): void {
  try {
    if (viaStream) {
      process.stderr.write(text);
      return;
    }
    const bytes = Buffer.from(text);
    let done = 0;
    try {
      done = writeSync(2, bytes);
    } catch {}
    if (done === bytes.length) return;
    viaStream = true;
    // A closed stderr must not crash the run (caught below).
    process.stderr.write(bytes.subarray(done));
  } catch {
    // Nowhere to say it.
  }
}

export function createLogger(opts: LoggerOptions = {}): Log {
  const env = opts.env ?? process.env;
  const tag = opts.node ? `pvemigrate-dns[${opts.node}]` : "pvemigrate-dns";
  const write = opts.write ?? writeStderr;
  const now = opts.now ?? Date.now;
  const debug = env.PVEMIGRATE_DNS_DEBUG === "1";
  return (line, level = "info") => {
    if (level === "debug" && !debug) return;
    write(formatLines(level, line, { target: opts.target ?? stderrTarget(env), tag, now: now() }));
  };
}

/** A log function for code that only warns (state stores, locks): every line at warning level. */
export function warnVia(log: Log): (message: string) => void {
  return (message) => log(message, "warning");
}
