import { SimError } from "./errors.ts";
import { requestMigration } from "./migration.ts";
import type { SimState, SimVm } from "./state.ts";
import { listTasks, taskLog, taskStatus } from "./tasks.ts";

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

/**
 * GET /cluster/resources (pve-manager PVE/API2/Cluster.pm resources): `node`
 * and `lock` from the guests' config files (immediate), `status` from the RRD
 * (rrd.ts: lagging, QMP states, a dead node's guests keep their last one).
 */
function resources(state: SimState, type: string | null): unknown[] {
  const out: unknown[] = [];
  if (type === null || type === "vm") {
    state.rrd.beforeRead();
    for (const vm of state.vms.values()) {
      // Cluster.pm resources: a guest without VM.Audit is silently left out (the one place a token's view is filtered).
      if (!state.access.can(`/vms/${vm.vmid}`, "VM.Audit")) continue;
      const item: Record<string, unknown> = {
        id: `${vm.type}/${vm.vmid}`,
        vmid: vm.vmid,
        type: vm.type,
        node: vm.node,
        status: state.rrd.status(vm.vmid),
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
  if (type === null || type === "node") {
    for (const n of state.nodes.values()) {
      out.push({ id: `node/${n.name}`, type: "node", node: n.name, status: n.online ? "online" : "offline" });
    }
  }
  return out;
}

/** GET .../status/current (qemu-server PVE/API2/Qemu.pm vm_status -> vmstatus($vmid, 1)): live, on the node. */
function statusCurrent(vm: SimVm): Record<string, unknown> {
  const running = vm.status === "running";
  return {
    vmid: vm.vmid,
    name: vm.name,
    status: vm.status,
    ...(vm.type === "qemu" ? { qmpstatus: running ? (vm.qmpstatus ?? "running") : "stopped" } : {}),
    ...(running ? { pid: 10_000 + vm.vmid, uptime: 42 } : {}),
    ...(vm.lock ? { lock: vm.lock } : {}),
    ha: vm.hastate ? { managed: 1, state: vm.hastate } : { managed: 0 },
  };
}

/** GET /nodes/{n}/lxc/{id}/interfaces (pve-container PVE::LXC::get_interfaces): `inet`/`inet6` keep only the LAST address of each family. */
function lxcInterfaces(vm: SimVm): unknown[] {
  if (vm.status !== "running") throw new SimError(500, `CT ${vm.vmid} not running`);
  return (vm.agent ?? []).map((i) => {
    const item: Record<string, unknown> = {
      name: i.name,
      hwaddr: i["hardware-address"] ?? "00:00:00:00:00:00",
      "hardware-address": i["hardware-address"] ?? "00:00:00:00:00:00",
      "ip-addresses": (i["ip-addresses"] ?? []).map((a) => ({
        "ip-address": a["ip-address"],
        "ip-address-type": a["ip-address-type"] === "ipv4" ? "inet" : "inet6",
        prefix: a.prefix,
      })),
    };
    for (const a of i["ip-addresses"] ?? []) {
      item[a["ip-address-type"] === "ipv4" ? "inet" : "inet6"] = `${a["ip-address"]}/${a.prefix}`;
    }
    return item;
  });
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
  if (a === "tasks" && b && c === "status" && method === "GET") return taskStatus(state, node, b);
  if (a === "tasks" && b && c === "log" && method === "GET") return taskLog(state, node, b, call.query);
  if ((a === "qemu" || a === "lxc") && b) {
    // The permission check runs before the handler looks for the guest (qemu-server's `check`).
    state.access.check(`/vms/${b}`, guestPrivilege(a, c, d, method));
    const vm = guestOn(state, node, a, b);
    if (c === "config" && method === "GET") return { ...vm.config, digest: "0".repeat(40) };
    if (c === "migrate" && method === "POST") {
      return requestMigration(state, vm, call.body.target ?? "", {
        online: call.body.online === "1",
        restart: call.body.restart === "1",
        user: call.user,
      });
    }
    if (a === "qemu" && c === "agent" && d === "network-get-interfaces" && method === "GET") {
      if (vm.status !== "running") throw new SimError(500, `VM ${vm.vmid} is not running`);
      if (!vm.agent) throw new SimError(500, "QEMU guest agent is not running");
      return { result: vm.agent };
    }
    if (a === "lxc" && c === "interfaces" && method === "GET") return lxcInterfaces(vm);
    if (c === "status" && d === "current" && method === "GET") return statusCurrent(vm);
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
