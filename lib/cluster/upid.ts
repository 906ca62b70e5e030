import type { Upid } from "./types.ts";

// UPID:node:pid:pstart:starttime:type:id:user:  (pid, pstart, starttime in hex).
// The task's node is the node whose task list holds it; for a qmigrate that is
// the migration's source node.

const UPID_RE =
  /^UPID:([A-Za-z0-9][A-Za-z0-9.-]*):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:]+):([^:]*):([^:]+):$/;

export function parseUpid(upid: string): Upid | undefined {
  const m = UPID_RE.exec(upid);
  if (!m) return undefined;
  return {
    upid,
    node: m[1]!,
    pid: Number.parseInt(m[2]!, 16),
    pstart: Number.parseInt(m[3]!, 16),
    starttime: Number.parseInt(m[4]!, 16),
    type: m[5]!,
    id: m[6]!,
    user: m[7]!,
  };
}

const hex8 = (n: number) => n.toString(16).toUpperCase().padStart(8, "0");

export function formatUpid(u: Omit<Upid, "upid">): string {
  return `UPID:${u.node}:${hex8(u.pid)}:${hex8(u.pstart)}:${hex8(u.starttime)}:${u.type}:${u.id}:${u.user}:`;
}
