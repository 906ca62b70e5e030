import { parseUpid } from "../cluster/upid.ts";
import { SimError } from "./errors.ts";
import type { SimState, SimTask } from "./state.ts";

// The task endpoints of /nodes/{node}/tasks, shaped like pve-manager
// PVE/API2/Tasks.pm: a token's tasks are listed with `user` and `tokenid`
// split ($convert_token_task), running ones with status `RUNNING` (node_tasks,
// active list); an unknown UPID is a 400 parameter error (read_task_status:
// raise_param_exc "no such task"); a log read goes through pve-common
// PVE::Tools::dump_logfile, which answers an empty log with one line
// `{n: 1, t: "no content"}` (an ExtJS workaround) and a missing file with
// `unable to open file`.

/** `user@realm!token` -> user + tokenid, as the task list shows a token's tasks. */
function splitUser(user: string): { user: string; tokenid?: string } {
  const i = user.indexOf("!");
  return i < 0 ? { user } : { user: user.slice(0, i), tokenid: user.slice(i + 1) };
}

export function taskItem(t: SimTask): Record<string, unknown> {
  return {
    upid: t.upid,
    node: t.node,
    pid: t.pid,
    pstart: t.pstart,
    starttime: t.starttime,
    type: t.type,
    id: t.id,
    ...splitUser(t.user),
    ...(t.endtime !== undefined ? { endtime: t.endtime, status: t.exitstatus } : {}),
  };
}

export function listTasks(state: SimState, node: string, q: URLSearchParams): unknown[] {
  const typefilter = q.get("typefilter");
  const vmid = q.get("vmid");
  const source = q.get("source") ?? "archive";
  const limit = Number(q.get("limit") ?? 50);
  return state.tasks
    .filter(
      (t) =>
        t.node === node &&
        (!typefilter || t.type === typefilter) &&
        (!vmid || t.id === vmid) &&
        (source === "all" || (source === "active") === (t.endtime === undefined)),
    )
    .sort((a, b) => b.starttime - a.starttime || b.pid - a.pid)
    .slice(0, limit)
    .map((t) => ({ ...taskItem(t), ...(t.endtime === undefined ? { status: "RUNNING" } : {}) }));
}

function findTask(state: SimState, node: string, upid: string): SimTask | undefined {
  if (!parseUpid(upid)) {
    throw new SimError(400, "Parameter verification failed.", { upid: "unable to parse worker upid" });
  }
  return state.tasks.find((x) => x.upid === upid && x.node === node);
}

export function taskStatus(state: SimState, node: string, upid: string): unknown {
  const t = findTask(state, node, upid);
  if (!t) throw new SimError(400, "Parameter verification failed.", { upid: "no such task" });
  return {
    ...taskItem(t),
    status: t.endtime === undefined ? "running" : "stopped",
    ...(t.exitstatus !== undefined ? { exitstatus: t.exitstatus } : {}),
  };
}

export function taskLog(state: SimState, node: string, upid: string, q: URLSearchParams): unknown[] {
  const t = findTask(state, node, upid);
  if (!t) return [{ n: 1, t: "unable to open file - No such file or directory" }];
  if (t.log.length === 0) return [{ n: 1, t: "no content" }];
  const start = Number(q.get("start") ?? 0);
  const limit = Number(q.get("limit") ?? 50);
  return t.log.slice(start, start + limit).map((line, i) => ({ n: start + i + 1, t: line }));
}
