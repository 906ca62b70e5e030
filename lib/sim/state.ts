import { formatUpid } from "../cluster/upid.ts";
import { SimAccess } from "./access.ts";
import { SimPmxcfs } from "./pmxcfs.ts";
import { SimRrd } from "./rrd.ts";

// The simulated cluster's state and its clock-driven behaviour. Pure data plus
// timers; the HTTP layer (routes.ts, cluster.ts) only reads and calls it, and
// migration.ts drives migrations and HA recovery in Proxmox's own order.
//
// Two views of a guest, like Proxmox: `node`/`lock` come from its config file
// (pmxcfs, immediate), its run state is live on the node (status/current) and
// only reaches /cluster/resources through the RRD, which lags (rrd.ts).

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
  /** Where its config file is (pmxcfs `nodes/<node>/...`): immediate, like Proxmox's vmlist. */
  node: string;
  /** Live: whether its process exists on `node` (qemu: a QEMU process, whatever its QMP state). */
  status: "running" | "stopped";
  /** qemu, live, while running: QMP `query-status` (running, paused, prelaunch, inmigrate, postmigrate, suspended, io-error, ...). */
  qmpstatus?: string;
  name?: string;
  tags: string[];
  hastate?: string;
  lock?: string;
  /** The guest's config as GET .../config returns it (net0, description, ...). */
  config: Record<string, string | number>;
  /** Guest agent answer (qemu) or the container's interfaces (lxc); undefined = no agent running. */
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

/** A hookscript call Proxmox would make: `<script> <vmid> <phase>` on `node`. */
export interface SimHookEvent {
  node: string;
  vmid: number;
  phase: "pre-start" | "post-start" | "pre-stop" | "post-stop";
  /** PVE_MIGRATED_FROM (qemu live migration target only). */
  migratedFrom?: string;
}

/** Something that happened to a guest, in order: tests assert "the switch came before unlock". */
export interface SimEvent {
  seq: number;
  vmid: number;
  what:
    | "locked"
    | "target-started"
    | "config-moved"
    | "resumed"
    | "source-stopped"
    | "unlocked"
    | "task-ended"
    | "target-stopped"
    | "recovered"
    | "started"
    | "stopped";
  node: string;
}

/** Where an injected migration failure strikes (pve-guest-common AbstractMigrate::migrate). */
export type SimFailurePhase = "phase1" | "phase2" | "cleanup" | "unlock";

export interface SimStateOptions {
  nodes: string[];
  vms: SimVm[];
  migrationDelayMs: number;
  /** How long the HA stack takes to start the real migration after an hamigrate (and the LRM a recovered guest). */
  haDelayMs: number;
  /** phase3_cleanup: from stopping the source to `qm unlock` (freeing local disks can be slow). */
  unlockDelayMs?: number;
  /** pvestatd's update interval (10 s in Proxmox); 0 = /cluster/resources shows live status. */
  rrdIntervalMs?: number;
  /** A pmxcfs root (a temp dir standing for /etc/pve): guest config files are written and moved there. */
  pveRoot?: string;
}

export class SimState {
  /** The token's privileges and the guests it may not see (access.ts). */
  access = new SimAccess();
  readonly nodes = new Map<string, SimNode>();
  readonly vms = new Map<number, SimVm>();
  readonly tasks: SimTask[] = [];
  readonly requests: SimRequest[] = [];
  readonly events: SimEvent[] = [];
  readonly rrd: SimRrd;
  readonly pmxcfs: SimPmxcfs;
  migrationDelayMs: number;
  haDelayMs: number;
  unlockDelayMs: number;
  quorateOverride: boolean | undefined;
  /** Added to the wall clock for task times, so tests can put seconds between tasks without waiting. */
  clockOffsetSec = 0;
  /** Told about every hookscript call Proxmox would make (tests and the demo run the hook). */
  onHook: (event: SimHookEvent) => void = () => {};
  readonly failNext: Array<{ message: string; phase: SimFailurePhase }> = [];
  #timers = new Set<NodeJS.Timeout>();
  #pid = 4000;
  #seq = 0;

  constructor(opts: SimStateOptions) {
    opts.nodes.forEach((name, i) => {
      this.nodes.set(name, { name, ip: `10.10.0.${i + 1}`, online: true, nodeid: i + 1 });
    });
    this.pmxcfs = new SimPmxcfs(opts.pveRoot, opts.nodes);
    for (const vm of opts.vms) this.addVm(vm);
    this.migrationDelayMs = opts.migrationDelayMs;
    this.haDelayMs = opts.haDelayMs;
    this.unlockDelayMs = opts.unlockDelayMs ?? 0;
    this.rrd = new SimRrd(this, opts.rrdIntervalMs ?? 10_000);
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

  addVm(vm: SimVm): void {
    this.vms.set(vm.vmid, vm);
    this.pmxcfs.write(vm);
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

  event(vm: SimVm, what: SimEvent["what"], node = vm.node): void {
    this.events.push({ seq: ++this.#seq, vmid: vm.vmid, what, node });
  }

  hook(event: SimHookEvent): void {
    this.onHook(event);
  }

  /** Sets the lock in the guest's config (and its file), like PVE::AbstractConfig::set_lock. */
  setLock(vm: SimVm, lock: string | undefined): void {
    if (lock) vm.lock = lock;
    else delete vm.lock;
    this.pmxcfs.write(vm);
    this.event(vm, lock ? "locked" : "unlocked");
  }

  /** Renames the config to another node's directory (PVE::AbstractConfig::move_config_to_node). */
  moveConfig(vm: SimVm, to: string): void {
    const from = vm.node;
    vm.node = to;
    this.pmxcfs.move(vm, from);
    this.event(vm, "config-moved", to);
  }

  /** Memory transfers that wait for releaseMigrations(); undefined while migrations run freely. */
  #held: Array<() => void> | undefined;

  /**
   * Keeps every live migration in its memory transfer (before phase3_cleanup)
   * until releaseMigrations(): tests check "in flight" without racing a timer.
   */
  holdMigrations(): void {
    this.#held ??= [];
  }

  releaseMigrations(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const fn of held) fn();
  }

  /** Runs fn now, or when migrations are released if they are held. */
  whenReleased(fn: () => void): void {
    if (this.#held) this.#held.push(fn);
    else fn();
  }

  after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }

  /** Runs fn every `ms` until stop() or the returned function is called; the timer does not keep the process alive. */
  every(ms: number, fn: () => void): () => void {
    const t = setInterval(fn, ms);
    t.unref();
    this.#timers.add(t);
    return () => {
      clearInterval(t);
      this.#timers.delete(t);
    };
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

  /** A migration log line: `2026-12-03 10:00:00 [ERROR: ]msg` (AbstractMigrate's $msg2text, strftime localtime). */
  log(task: SimTask, msg: string, level: "info" | "err" = "info"): void {
    const d = new Date(this.now() * 1000);
    const p = (n: number) => String(n).padStart(2, "0");
    const stamp = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    task.log.push(`${stamp}${level === "err" ? " ERROR:" : ""} ${msg}`);
  }

  /** The worker's last line (PVE::RESTEnvironment fork_worker), read back by PVE::UPID::read_status. */
  endTask(task: SimTask, exitstatus: string): void {
    task.endtime = this.now();
    task.exitstatus = exitstatus;
    task.log.push(`TASK ${exitstatus === "OK" ? "OK" : `ERROR: ${exitstatus}`}`);
  }
}
