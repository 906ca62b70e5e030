import { readFileSync } from "node:fs";
import { isoUtc } from "../iso-utc.ts";
import { localNodeName } from "../node-name.ts";
import { parseJsonObject } from "./read.ts";
import { uniqueToken } from "./token.ts";

// Who holds a lock. Written inside every lock we take so that a waiter can
// tell a live holder from a dead one, and so that a human looking at a stuck
// lock sees which node/process has it and since when.

export interface Holder {
  /** Random per acquisition: a release or a takeover only touches the lock it actually saw. */
  token: string;
  node: string;
  pid: number;
  /**
   * /proc/sys/kernel/random/boot_id of the holder's boot: a lock file left in
   * stateDir across a reboot names a pid from a previous life, which may be
   * running something else entirely now.
   */
  bootId?: string;
  /** Start time of the pid (clock ticks since boot, /proc/<pid>/stat field 22): detects pid reuse. */
  pidStart?: string;
  /** ISO time the lock was taken. */
  since: string;
}

let cachedBootId: string | undefined | null = null;

export function bootId(): string | undefined {
  if (cachedBootId === null) {
    try {
      cachedBootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || undefined;
    } catch {
      cachedBootId = undefined;
    }
  }
  return cachedBootId;
}

interface ProcStat {
  state: string;
  start: string;
}

/** State and start time of a process from /proc, or undefined when /proc does not tell. */
function procStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may contain spaces or ')': split after the LAST ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const [state, start] = [fields[0], fields[19]]; // fields 3 and 22 overall
    return state && start ? { state, start } : undefined;
  } catch {
    return undefined;
  }
}

export function pidStartTime(pid: number): string | undefined {
  return procStat(pid)?.start;
}

export function newToken(): string {
  return uniqueToken();
}

export function currentHolder(now: number = Date.now()): Holder {
  const holder: Holder = {
    token: newToken(),
    node: localNodeName(),
    pid: process.pid,
    since: isoUtc(now),
  };
  const boot = bootId();
  if (boot) holder.bootId = boot;
  const start = pidStartTime(process.pid);
  if (start) holder.pidStart = start;
  return holder;
}

/** Parses a holder record; undefined when the text is not one (empty, truncated, foreign). */
export function parseHolder(text: string): Holder | undefined {
  const r = parseJsonObject(text);
  if (!r) return undefined;
  if (typeof r.token !== "string" || typeof r.node !== "string" || typeof r.since !== "string")
    return undefined;
  if (typeof r.pid !== "number" || !Number.isInteger(r.pid) || r.pid <= 0) return undefined;
  const holder: Holder = { token: r.token, node: r.node, pid: r.pid, since: r.since };
  if (typeof r.bootId === "string") holder.bootId = r.bootId;
  if (typeof r.pidStart === "string") holder.pidStart = r.pidStart;
  return holder;
}

/**
 * Whether the process that wrote `holder` on THIS node may still be running.
 * Errs on the side of "alive": a lock wrongly thought alive only makes a
 * waiter time out, a lock wrongly thought dead lets two writers in.
 */
export function holderAlive(holder: Holder): boolean {
  const boot = bootId();
  if (holder.bootId && boot) {
    // stateDir is local: a lock from another boot was left by a process of a previous life.
    if (holder.bootId !== boot) return false;
  } else if (holder.node !== localNodeName()) {
    return true; // cannot judge another node's pids
  }
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
    // EPERM: the pid exists but belongs to someone else; fall through to the reuse check.
  }
  const stat = procStat(holder.pid);
  if (stat?.state === "Z") return false; // exited, only not yet reaped by its parent
  if (holder.pidStart && stat && stat.start !== holder.pidStart) return false; // pid reused by another process
  return true;
}

export function describeHolder(holder: Holder | undefined): string {
  if (!holder) return "an unknown holder";
  return `pid ${holder.pid} on ${holder.node} since ${holder.since}`;
}

/**
 * Whether `holder` was a process of THIS host's current boot that is gone now
 * (exited, a zombie, or its pid reused by a process started later). The strict
 * counterpart of holderAlive for locks other nodes share: without the same node
 * name, the same boot id and a recorded start time nothing is judged, because
 * a pid means nothing on another kernel.
 */
export function deadOnThisHost(holder: Holder): boolean {
  const boot = bootId();
  if (!boot || holder.bootId !== boot || holder.node !== localNodeName() || !holder.pidStart) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return true;
  }
  const stat = procStat(holder.pid);
  if (!stat) return false; // exists (or EPERM) but /proc says nothing: cannot judge
  return stat.state === "Z" || stat.start !== holder.pidStart;
}
