import type { SimState, SimVm } from "./state.ts";

// The status column of /cluster/resources, as Proxmox produces it: pvestatd
// on each node broadcasts its guests' status every 10 s (pve-manager
// PVE/Service/pvestatd.pm: `$updatetime = 10`; update_qemu_status sends
// `$d->{qmpstatus} || $d->{status}`, so QMP states such as `paused` or
// `postmigrate` show up), pmxcfs keeps the last entry per guest, keyed by vmid
// not by node, and drops entries older than 5 minutes (pve-cluster
// src/pmxcfs/status.c rrd_entry_is_old); /cluster/resources reads them
// (PVE/API2/Cluster.pm resources -> PVE::API2Tools::extract_vm_stats, status
// `unknown` without an entry). So: a dead node's guests keep their last status
// for minutes, and a guest that just started, stopped or moved shows the old
// status until the next broadcast.

/** pmxcfs forgets RRD entries older than this (status.c rrd_entry_is_old). */
export const RRD_EXPIRE_SEC = 5 * 60;

interface RrdEntry {
  status: string;
  /** Sim clock seconds of the broadcast. */
  time: number;
}

export class SimRrd {
  readonly #state: SimState;
  readonly #entries = new Map<number, RrdEntry>();
  /** 0: every read sees the live status (no lag). */
  intervalMs = 0;
  #stopTimer: (() => void) | undefined;

  constructor(state: SimState, intervalMs: number) {
    this.#state = state;
    this.tick();
    this.setInterval(intervalMs);
  }

  /** Changes the broadcast interval; the next broadcast is one full interval from now. */
  setInterval(ms: number): void {
    this.#stopTimer?.();
    this.#stopTimer = undefined;
    this.intervalMs = ms;
    if (ms > 0) this.#stopTimer = this.#state.every(ms, () => this.tick());
  }

  /** What the guest's node broadcasts: the QMP state while a process exists, else `stopped`. */
  static reported(vm: SimVm): string {
    if (vm.status !== "running") return "stopped";
    return vm.type === "qemu" ? (vm.qmpstatus ?? "running") : "running";
  }

  /** One pvestatd round on every node that is up: each reports the guests whose config it holds. */
  tick(): void {
    const now = this.#state.now();
    for (const vm of this.#state.vms.values()) {
      if (!this.#state.nodes.get(vm.node)?.online) continue;
      this.#entries.set(vm.vmid, { status: SimRrd.reported(vm), time: now });
    }
  }

  /** The first broadcast about a guest that just appeared. */
  report(vm: SimVm): void {
    this.#entries.set(vm.vmid, { status: SimRrd.reported(vm), time: this.#state.now() });
  }

  /** Before a /cluster/resources read: without lag, the entries are brought up to date. */
  beforeRead(): void {
    if (this.intervalMs === 0) this.tick();
  }

  /** The status /cluster/resources shows for the guest. */
  status(vmid: number): string {
    const entry = this.#entries.get(vmid);
    if (!entry || this.#state.now() - entry.time > RRD_EXPIRE_SEC) return "unknown";
    return entry.status;
  }
}
