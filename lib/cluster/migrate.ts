import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { PeerError } from "../errors.ts";
import type { ProxmoxClient } from "./client.ts";
import type { GuestType, MigrateProgress, MigrateResult, TaskStatus, Upid } from "./types.ts";
import { parseUpid } from "./upid.ts";

// Starts a migration with exactly one POST and follows it to the end. For an
// HA-managed guest the POST returns an `hamigrate` task that only asks the HA
// stack to migrate; the real qmigrate/vzmigrate appears a bit later on the
// source node, and that is the task whose outcome counts.

export interface MigrateRequest {
  vmid: number;
  from: string;
  to: string;
  /** Live migration for a running VM (qemu `online=1`; lxc: restart mode). */
  online: boolean;
  type?: GuestType;
  /** qemu: also move local disks (default true; harmless with shared storage). */
  withLocalDisks?: boolean;
}

export interface MigrateOptions {
  /** Task status poll interval; default 1000 ms. */
  pollMs?: number;
  /** How long to wait for the HA stack to start the real migration; default 120 s. */
  haQueueTimeoutMs?: number;
  /** Consecutive failed polls tolerated (the API may blip while a node is busy); default 5. */
  maxPollFailures?: number;
}

const nodePath = (node: string) => `/nodes/${encodeURIComponent(node)}`;

function isSuccess(exitstatus: string): boolean {
  return exitstatus === "OK" || exitstatus.startsWith("WARNINGS");
}

async function taskStatus(client: ProxmoxClient, task: Upid): Promise<TaskStatus> {
  const data = (await client.request(
    "GET",
    `${nodePath(task.node)}/tasks/${encodeURIComponent(task.upid)}/status`,
  )) as Partial<TaskStatus> | null;
  const status = data?.status === "stopped" ? "stopped" : "running";
  return {
    upid: task.upid,
    status,
    ...(data?.exitstatus !== undefined ? { exitstatus: String(data.exitstatus) } : {}),
  };
}

const logLine = z.object({ n: z.coerce.number().int().nonnegative(), t: z.coerce.string().default("") });

/**
 * Lines `start`.. of a task's log. pve-common PVE::Tools::dump_logfile
 * answers an empty log with the one line `{n: 1, t: "no content"}` (an ExtJS
 * workaround): that is no line at all, or the next read would skip the
 * task's real first line.
 */
async function taskLog(client: ProxmoxClient, task: Upid, start: number): Promise<string[]> {
  const data = await client.request(
    "GET",
    `${nodePath(task.node)}/tasks/${encodeURIComponent(task.upid)}/log`,
    {
      start,
      limit: 500,
    },
  );
  const parsed = z.array(logLine).safeParse(data ?? []);
  if (!parsed.success) throw new PeerError(`task log of ${task.upid}: unexpected answer`);
  const lines = parsed.data;
  if (start === 0 && lines.length === 1 && lines[0]!.n === 1 && lines[0]!.t === "no content") return [];
  return lines.map((l) => l.t);
}

/** Polls a task until it stops, reporting its new log lines; returns exit status and log. */
async function follow(
  client: ProxmoxClient,
  task: Upid,
  onProgress: (p: MigrateProgress) => void,
  opts: Required<MigrateOptions>,
): Promise<{ exitstatus: string; log: string[] }> {
  const log: string[] = [];
  let failures = 0;
  const drainLog = async () => {
    for (;;) {
      const lines = await taskLog(client, task, log.length);
      for (const line of lines) {
        log.push(line);
        onProgress({ kind: "log", upid: task.upid, line });
      }
      if (lines.length < 500) return;
    }
  };
  for (;;) {
    try {
      const st = await taskStatus(client, task);
      await drainLog();
      failures = 0;
      if (st.status === "stopped") {
        const exitstatus = st.exitstatus ?? "unknown";
        onProgress({ kind: "finished", upid: task.upid, exitstatus });
        return { exitstatus, log };
      }
    } catch (err) {
      if (++failures > opts.maxPollFailures) throw err;
    }
    await sleep(opts.pollMs);
  }
}

/** The real migration the HA stack started for this guest after `ha` was queued. */
async function awaitHaTask(
  client: ProxmoxClient,
  ha: Upid,
  realType: string,
  vmid: number,
  opts: Required<MigrateOptions>,
): Promise<Upid> {
  const deadline = Date.now() + opts.haQueueTimeoutMs;
  for (;;) {
    try {
      const data = (await client.request("GET", `${nodePath(ha.node)}/tasks`, {
        typefilter: realType,
        vmid,
        source: "all",
        limit: 10,
      })) as Array<{ upid?: string }> | null;
      const found = (data ?? [])
        .map((t) => (t.upid ? parseUpid(t.upid) : undefined))
        .filter(
          (u): u is Upid =>
            !!u && u.type === realType && u.id === String(vmid) && u.starttime >= ha.starttime,
        )
        .sort((a, b) => a.starttime - b.starttime || a.pid - b.pid)[0];
      if (found) return found;
    } catch {
      // Keep waiting: a blip in the API is not the end of the HA request.
    }
    if (Date.now() >= deadline) {
      throw new PeerError(
        `HA did not start the ${realType} for ${vmid} within ${opts.haQueueTimeoutMs} ms after ${ha.upid} (see ha-manager status)`,
      );
    }
    await sleep(opts.pollMs);
  }
}

/** `2026-12-03 10:00:00 ERROR: why` (pve-guest-common AbstractMigrate $msg2text, strftime "%F %H:%M:%S"). */
const ERROR_LINE = /^(?:\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} )?ERROR: ?(.*)$/;
/** AbstractMigrate::migrate's closing lines repeat the reason or say nothing new. */
const CLOSING = /^migration (?:aborted|finished with problems) \(duration [\d:]+\):? ?/;
const MAX_REASON = 500;

/**
 * PURE: the task's error text for a human: Proxmox's terse exit status
 * ("migration aborted", "migration problems") and the reasons from its log's
 * ERROR lines, timestamps stripped, each once. Task logs quote commands and
 * storage names, so the text is bounded.
 */
export function errorText(exitstatus: string, log: readonly string[]): string {
  const reasons: string[] = [];
  for (const line of log) {
    const m = ERROR_LINE.exec(line);
    if (!m) continue;
    const reason = m[1]!.replace(CLOSING, "").trim();
    if (reason && !reasons.includes(reason)) reasons.push(reason);
  }
  const text = reasons.length ? `${exitstatus}: ${reasons.join("; ")}` : exitstatus;
  return text.length > MAX_REASON ? `${text.slice(0, MAX_REASON)}...` : text;
}

export async function migrate(
  client: ProxmoxClient,
  req: MigrateRequest,
  onProgress: (p: MigrateProgress) => void = () => {},
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const opts: Required<MigrateOptions> = {
    pollMs: options.pollMs ?? 1000,
    haQueueTimeoutMs: options.haQueueTimeoutMs ?? 120_000,
    maxPollFailures: options.maxPollFailures ?? 5,
  };
  const type = req.type ?? "qemu";
  const realType = type === "qemu" ? "qmigrate" : "vzmigrate";
  const params: Record<string, string | number> = { target: req.to };
  if (type === "qemu") {
    if (req.online) params.online = 1;
    if (req.withLocalDisks ?? true) params["with-local-disks"] = 1;
  } else if (req.online) {
    params.restart = 1;
  }
  // The client sends a POST once and never to a second endpoint after it may have arrived.
  const data = await client.request("POST", `${nodePath(req.from)}/${type}/${req.vmid}/migrate`, params);
  const first = typeof data === "string" ? parseUpid(data) : undefined;
  if (!first)
    throw new PeerError(`migrate ${req.vmid}: the API answered ${JSON.stringify(data)}, not a task id`);
  onProgress({ kind: "submitted", upid: first.upid, taskType: first.type });

  let real = first;
  if (first.type === "hamigrate") {
    onProgress({ kind: "ha-queued", upid: first.upid });
    const queued = await follow(client, first, onProgress, opts);
    if (!isSuccess(queued.exitstatus)) {
      return {
        ok: false,
        upid: first.upid,
        exitstatus: queued.exitstatus,
        error: errorText(queued.exitstatus, queued.log),
      };
    }
    real = await awaitHaTask(client, first, realType, req.vmid, opts);
  }
  onProgress({ kind: "task-started", upid: real.upid, node: real.node });
  const done = await follow(client, real, onProgress, opts);
  const result: MigrateResult = {
    ok: isSuccess(done.exitstatus),
    upid: first.upid,
    exitstatus: done.exitstatus,
  };
  if (real !== first) result.realUpid = real.upid;
  if (!result.ok) result.error = errorText(done.exitstatus, done.log);
  return result;
}
