import { formatUpid } from "../cluster/upid.ts";
import { SimAccess } from "./access.ts";

// The simulated cluster's state and its clock-driven behaviour (migrations that
// take time, HA requests that queue a real migration later). Pure data plus
// timers; the HTTP layer (routes.ts, server.ts) only reads and calls it.

export interface SimInterface {
  name: string;
  "hardware-address"?: string;
  "ip-addresses"?: Array<{ "ip-address": string; "ip-address-type": "ipv4" | "ipv6"; prefix: number }>;
}

export interface SimNode {
  name: string;
  ip: string;
  online: boolean;
  nodeid: number;
}

export interface SimVm {
  vmid: number;
  type: "qemu" | "lxc";
  node: string;
  status: "running" | "stopped";
  name?: string;
  tags: string[];
  hastate?: string;
  lock?: string;
  /** The guest's config as GET .../config returns it (net0, description, ...). */
  config: Record<string, string | number>;
  /** Guest agent answer; undefined = no agent running. */
  agent?: SimInterface[];
}

export interface SimTask {
  upid: string;
  node: string;
  type: string;
  id: string;
  user: string;
  pid: number;
  pstart: number;
  starttime: number;
  endtime?: number;
  /** Unset while running; "OK" or the error text once stopped. */
  exitstatus?: string;
  log: string[];
}

/** One request the sim received: tests assert on these ("POSTed exactly once"). */
export interface SimRequest {
  method: string;
  path: string;
  /** The node whose endpoint received it. */
  via: string;
  status: number;
  body?: Record<string, string>;
}

export class SimError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(message);
  }
}

export interface SimStateOptions {
  nodes: string[];
  vms: SimVm[];
  migrationDelayMs: number;
  /** How long the HA stack takes to start the real migration after an hamigrate. */
  haDelayMs: number;
}

export class SimState {
  /** The token's privileges and the guests it may not see (access.ts). */
  access = new SimAccess();
  readonly nodes = new Map<string, SimNode>();
  readonly vms = new Map<number, SimVm>();
  readonly tasks: SimTask[] = [];
  readonly requests: SimRequest[] = [];
  migrationDelayMs: number;
  haDelayMs: number;
  quorateOverride: boolean | undefined;
  /** Added to the wall clock for task times, so tests can put seconds between tasks without waiting. */
  clockOffsetSec = 0;
  #failNext: string[] = [];
  #timers = new Set<NodeJS.Timeout>();
  #pid = 4000;

  constructor(opts: SimStateOptions) {
    opts.nodes.forEach((name, i) => {
      this.nodes.set(name, { name, ip: `10.10.0.${i + 1}`, online: true, nodeid: i + 1 });
    });
    for (const vm of opts.vms) this.vms.set(vm.vmid, vm);
    this.migrationDelayMs = opts.migrationDelayMs;
    this.haDelayMs = opts.haDelayMs;
  }

  get quorate(): boolean {
    if (this.quorateOverride !== undefined) return this.quorateOverride;
    const online = [...this.nodes.values()].filter((n) => n.online).length;
    return online * 2 > this.nodes.size;
  }

  /** Epoch seconds as the sim's task log sees them. */
  now(): number {
    return Math.floor(Date.now() / 1000) + this.clockOffsetSec;
  }

  failNextMigration(message: string): void {
    this.#failNext.push(message);
  }

  vm(vmid: number): SimVm {
    const vm = this.vms.get(vmid);
    if (!vm) throw new Error(`sim: no VM ${vmid}`);
    return vm;
  }

  node(name: string): SimNode {
    const node = this.nodes.get(name);
    if (!node) throw new Error(`sim: no node ${name}`);
    return node;
  }

  countRequests(method: string, path: RegExp): number {
    return this.requests.filter((r) => r.method === method && path.test(r.path)).length;
  }

  after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }

  stop(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  startTask(node: string, type: string, id: string, user: string): SimTask {
    const task: SimTask = {
      node,
      type,
      id,
      user,
      pid: ++this.#pid,
      pstart: 1_000_000 + this.#pid,
      starttime: this.now(),
      log: [],
      upid: "",
    };
    task.upid = formatUpid(task);
    this.tasks.push(task);
    return task;
  }

  endTask(task: SimTask, exitstatus: string): void {
    task.endtime = this.now();
    task.exitstatus = exitstatus;
    task.log.push(`TASK ${exitstatus === "OK" ? "OK" : `ERROR: ${exitstatus}`}`);
  }

  /** POST .../migrate: validates like Proxmox, then starts an hamigrate or the real migration. */
  migrate(vm: SimVm, target: string, online: boolean, restart: boolean, user: string): string {
    const targetNode = this.nodes.get(target);
    if (!targetNode)
      throw new SimError(400, "Parameter verification failed.", {
        target: `no such cluster node '${target}'`,
      });
    if (target === vm.node)
      throw new SimError(400, "Parameter verification failed.", { target: `target is local node.` });
    if (!targetNode.online) throw new SimError(500, `target node '${target}' is not online`);
    if (vm.lock) throw new SimError(500, `VM is locked (${vm.lock})`);
    if (vm.status === "running" && vm.type === "qemu" && !online && !vm.hastate) {
      throw new SimError(500, "can't migrate running VM without --online");
    }
    if (vm.status === "running" && vm.type === "lxc" && !restart && !vm.hastate) {
      throw new SimError(500, "lxc live migration is currently not implemented - use 'restart' mode");
    }
    const realType = vm.type === "qemu" ? "qmigrate" : "vzmigrate";
    if (vm.hastate) {
      // The HA stack owns the guest: the API only queues a request for the CRM,
      // which starts the real migration a bit later on the source node.
      const ha = this.startTask(vm.node, "hamigrate", String(vm.vmid), user);
      ha.log.push(
        `requesting HA migration for ${vm.type === "qemu" ? "VM" : "CT"} ${vm.vmid} to node ${target}`,
      );
      vm.hastate = "migrate";
      this.after(Math.min(20, this.haDelayMs), () => this.endTask(ha, "OK"));
      this.after(this.haDelayMs, () => {
        this.runMigration(vm, target, realType, "root@pam");
      });
      return ha.upid;
    }
    return this.runMigration(vm, target, realType, user).upid;
  }

  runMigration(vm: SimVm, target: string, type: string, user: string): SimTask {
    const source = vm.node;
    const task = this.startTask(source, type, String(vm.vmid), user);
    vm.lock = "migrate";
    const failure = this.#failNext.shift();
    task.log.push(`starting migration of VM ${vm.vmid} to node '${target}' (${this.node(target).ip})`);
    this.after(this.migrationDelayMs / 2, () => {
      task.log.push(`migration active, transferred 512.0 MiB of 1.0 GiB VM-state`);
    });
    this.after(this.migrationDelayMs, () => {
      delete vm.lock;
      if (vm.hastate) vm.hastate = vm.status === "running" ? "started" : "stopped";
      if (failure !== undefined) {
        task.log.push(`ERROR: ${failure}`);
        task.log.push(`ERROR: migration aborted (duration 00:00:01): ${failure}`);
        this.endTask(task, "migration aborted");
        return;
      }
      vm.node = target;
      task.log.push("migration finished successfully (duration 00:00:01)");
      this.endTask(task, "OK");
    });
    return task;
  }
}
