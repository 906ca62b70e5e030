import { parseUpid } from "../cluster/upid.ts";
import { SimError, type SimState, type SimTask, type SimVm } from "./state.ts";

// The API surface the sim speaks, with Proxmox's documented response shapes.
// Each handler returns the value of `data`; errors are SimError(status, reason).

export interface SimCall {
  method: string;
  /** Path below /api2/json, decoded segments. */
  segments: string[];
  query: URLSearchParams;
  body: Record<string, string>;
  /** The node whose endpoint received the request ("local": 1 in /cluster/status). */
  via: string;
  user: string;
}

function clusterStatus(state: SimState, via: string): unknown[] {
  const nodes = [...state.nodes.values()];
  return [
    {
      type: "cluster",
      id: "cluster",
      name: "simcluster",
      nodes: nodes.length,
      quorate: state.quorate ? 1 : 0,
      version: 7,
    },
    ...nodes.map((n) => ({
      type: "node",
      id: `node/${n.name}`,
      name: n.name,
      ip: n.ip,
      online: n.online ? 1 : 0,
      local: n.name === via ? 1 : 0,
      nodeid: n.nodeid,
      level: "",
    })),
  ];
}

function resources(state: SimState, type: string | null): unknown[] {
  const out: unknown[] = [];
  if (type === null || type === "node") {
    for (const n of state.nodes.values()) {
      out.push({ id: `node/${n.name}`, type: "node", node: n.name, status: n.online ? "online" : "offline" });
    }
  }
  if (type === null || type === "vm") {
    for (const vm of state.vms.values()) {
      // Cluster.pm resources: a guest without VM.Audit is silently left out.
      if (!state.access.can(`/vms/${vm.vmid}`, "VM.Audit")) continue;
      const online = state.nodes.get(vm.node)?.online ?? false;
      const item: Record<string, unknown> = {
        id: `${vm.type}/${vm.vmid}`,
        vmid: vm.vmid,
        type: vm.type,
        node: vm.node,
        // A node that is down reports nothing: the cluster shows its guests as unknown.
        status: online ? vm.status : "unknown",
        name: vm.name,
        maxmem: 2147483648,
        template: 0,
      };
      if (vm.tags.length) item.tags = vm.tags.join(";");
      if (vm.hastate) item.hastate = vm.hastate;
      if (vm.lock) item.lock = vm.lock;
      out.push(item);
    }
  }
  return out;
}

function taskItem(t: SimTask): Record<string, unknown> {
  const item: Record<string, unknown> = {
    upid: t.upid,
    node: t.node,
    pid: t.pid,
    pstart: t.pstart,
    starttime: t.starttime,
    type: t.type,
    id: t.id,
    user: t.user,
  };
  if (t.endtime !== undefined) {
    item.endtime = t.endtime;
    item.status = t.exitstatus;
  }
  return item;
}

function listTasks(state: SimState, node: string, q: URLSearchParams): unknown[] {
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
    .map(taskItem);
}

function findTask(state: SimState, node: string, upid: string): SimTask {
  const t = state.tasks.find((x) => x.upid === upid && x.node === node);
  if (!t) throw new SimError(500, `no such task`);
  return t;
}

function guestOn(state: SimState, node: string, kind: string, id: string): SimVm {
  const vm = state.vms.get(Number(id));
  const dir = kind === "qemu" ? "qemu-server" : "lxc";
  if (!vm || vm.type !== kind || vm.node !== node) {
    throw new SimError(500, `Configuration file 'nodes/${node}/${dir}/${id}.conf' does not exist`);
  }
  return vm;
}

function nodeCall(state: SimState, call: SimCall, node: string, rest: string[]): unknown {
  const n = state.nodes.get(node);
  if (!n) throw new SimError(595, `no such node '${node}'`);
  // pveproxy forwards /nodes/{other}/... to that node; a dead node cannot answer.
  if (!n.online) throw new SimError(595, "Connection refused");
  const [a, b, c, d] = rest;
  const { method } = call;
  if (a === "tasks" && b === undefined && method === "GET") return listTasks(state, node, call.query);
  if (a === "tasks" && b && c === "status" && method === "GET") {
    const t = findTask(state, node, b);
    const u = parseUpid(t.upid);
    return {
      ...taskItem(t),
      status: t.endtime === undefined ? "running" : "stopped",
      ...(t.exitstatus !== undefined ? { exitstatus: t.exitstatus } : {}),
      ...(u ? { pid: u.pid } : {}),
    };
  }
  if (a === "tasks" && b && c === "log" && method === "GET") {
    const t = findTask(state, node, b);
    const start = Number(call.query.get("start") ?? 0);
    const limit = Number(call.query.get("limit") ?? 50);
    return t.log.slice(start, start + limit).map((line, i) => ({ n: start + i + 1, t: line }));
  }
  if ((a === "qemu" || a === "lxc") && b) {
    // The permission check runs before the handler looks for the guest (qemu-server's `check`).
    state.access.check(`/vms/${b}`, guestPrivilege(a, c, d, method));
    const vm = guestOn(state, node, a, b);
    if (c === "config" && method === "GET") return { ...vm.config, digest: "0".repeat(40) };
    if (c === "migrate" && method === "POST") {
      const target = call.body.target ?? "";
      return state.migrate(vm, target, call.body.online === "1", call.body.restart === "1", call.user);
    }
    if (a === "qemu" && c === "agent" && d === "network-get-interfaces" && method === "GET") {
      if (vm.status !== "running") throw new SimError(500, `VM ${vm.vmid} is not running`);
      if (!vm.agent) throw new SimError(500, "QEMU guest agent is not running");
      return { result: vm.agent };
    }
    if (c === "status" && d === "current" && method === "GET") {
      return { vmid: vm.vmid, status: vm.status, name: vm.name, ...(vm.lock ? { lock: vm.lock } : {}) };
    }
  }
  throw new SimError(501, `Method '${method} /nodes/${node}/${rest.join("/")}' not implemented`);
}

/** The privilege a guest path needs (qemu-server API2/Qemu.pm, API2/Qemu/Agent.pm on PVE 9). */
function guestPrivilege(kind: string, c?: string, d?: string, method?: string): string {
  if (c === "migrate" && method === "POST") return "VM.Migrate";
  if (kind === "qemu" && c === "agent" && d === "network-get-interfaces") return "VM.GuestAgent.Audit";
  return "VM.Audit";
}

/** Dispatches one authenticated request; returns `data`. */
export function route(state: SimState, call: SimCall): unknown {
  const [first, second, ...rest] = call.segments;
  if (first === "cluster" && second === "status" && call.method === "GET") {
    state.access.check("/", "Sys.Audit");
    return clusterStatus(state, call.via);
  }
  if (first === "access" && second === "permissions" && call.method === "GET")
    return state.access.permissions(call.query.get("path"));
  if (first === "cluster" && second === "resources" && call.method === "GET") {
    return resources(state, call.query.get("type"));
  }
  if (first === "nodes" && second) return nodeCall(state, call, second, rest);
  if (first === "version" && call.method === "GET")
    return { version: "9.0.0", release: "9.0", repoid: "sim" };
  throw new SimError(501, `Method '${call.method} /${call.segments.join("/")}' not implemented`);
}
