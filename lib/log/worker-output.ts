import { existsSync, renameSync, statSync } from "node:fs";
import { errnoCode } from "../errors.ts";

// Where the hook's detached worker writes. The hook's own stderr is the
// Proxmox task log, which ends with the hook; the worker runs for up to
// migrationWatchSeconds after that. On a systemd host it goes to the journal
// (`journalctl -t pvemigrate-dns`) through systemd-cat, started with an
// argument array, never a shell string. Without a journal it appends to
// <stateDir>/worker.log, which logrotate rotates (packaging/logrotate) and
// which is also bounded here, for hosts without logrotate.

/** systemd-cat connects the command's stdout and stderr to this stream socket (sd_journal_stream_fd). */
export const JOURNAL_STDOUT_SOCKET = "/run/systemd/journal/stdout";
/** Absolute: Proxmox runs hooks with PATH=/sbin:/bin:/usr/sbin:/usr/bin, and the path is not looked up. */
export const SYSTEMD_CAT = "/usr/bin/systemd-cat";
/** The identifier worker lines carry in the journal (SYSLOG_IDENTIFIER). */
export const JOURNAL_IDENTIFIER = "pvemigrate-dns";
/** worker.log is moved to worker.log.1 when over this size (logrotate's own maxsize is the same). */
export const WORKER_LOG_MAX_BYTES = 10 * 1024 * 1024;

export interface WorkerCommand {
  /** The worker's own argv: the interpreter, its flags, the script and its arguments. */
  argv: string[];
  env: NodeJS.ProcessEnv;
}

export interface WorkerLaunch {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** The file to append stdout and stderr to; absent when they go to the journal. */
  logFile?: string;
}

/** PURE: how to start the worker, given whether the journal can take its lines. */
export function workerLaunch(
  cmd: WorkerCommand,
  where: { journal: boolean; logFile: string; systemdCat?: string },
): WorkerLaunch {
  const [file, ...args] = cmd.argv;
  if (!file) throw new Error("worker: empty command");
  if (!where.journal) return { file, args, env: cmd.env, logFile: where.logFile };
  return {
    file: where.systemdCat ?? SYSTEMD_CAT,
    args: [`--identifier=${JOURNAL_IDENTIFIER}`, "--level-prefix=true", "--", file, ...args],
    // The worker's stderr will be a journal stream; lib/log/logger.ts adoptJournalStream.
    env: { ...cmd.env, PVEMIGRATE_DNS_STDERR_JOURNAL: "1" },
  };
}

/**
 * Whether systemd-cat can reach journald here. PVEMIGRATE_DNS_WORKER_LOG=file
 * keeps worker.log even then (the test suite reads it on hosts with a journal).
 */
export function journalAvailable(
  env: NodeJS.ProcessEnv = process.env,
  socket = JOURNAL_STDOUT_SOCKET,
  systemdCat = SYSTEMD_CAT,
): boolean {
  if (env.PVEMIGRATE_DNS_WORKER_LOG === "file") return false;
  return existsSync(socket) && existsSync(systemdCat);
}

/**
 * Keeps `path` under `maxBytes` before another worker appends to it: a larger
 * file becomes `<path>.1` (replacing an older one), the name logrotate also
 * uses, so both can rotate the same file. A worker still writing to the old
 * file keeps writing to it under its new name.
 */
export function boundLogFile(path: string, maxBytes = WORKER_LOG_MAX_BYTES): boolean {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return false;
    throw err;
  }
  if (size <= maxBytes) return false;
  renameSync(path, `${path}.1`);
  return true;
}
