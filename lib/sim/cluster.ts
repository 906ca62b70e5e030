import { SimAccess } from "./access.ts";
import { recoverGuest, requestMigration, startGuest, stopGuest } from "./migration.ts";
import { type SimFault, startSimServers } from "./server.ts";

export type { SimFault };

import {
  type SimEvent,
  type SimFailurePhase,
  type SimHookEvent,
  type SimInterface,
  type SimRequest,
  SimState,
  type SimVm,
} from "./state.ts";

// A simulated Proxmox VE cluster: one real HTTP(S) listener per node on
// 127.0.0.1 (port 0), all sharing one state, speaking the API's response shapes
// ({data}, application/json;charset=UTF-8, reason phrase in the status line).
// The e2e tests and the `demo` command run the real client against it.

export interface SimVmInput {
  vmid: number;
  node: string;
  type?: "qemu" | "lxc";
  status?: "running" | "stopped";
  /** qemu: the QMP state while running (paused, suspended, io-error, ...). */
  qmpstatus?: string;
  name?: string;
  tags?: string[];
  hastate?: string;
  lock?: string;
  config?: Record<string, string | number>;
  agent?: SimInterface[];
}

export interface SimClusterOptions {
  /** Node names, or a count (pve1..pveN). Default 3. */
  nodes?: string[] | number;
  /** Guests, or a count spread round-robin over the nodes (vmid 100..). */
  vms?: SimVmInput[] | number;
  tokenId?: string;
  tokenSecret?: string;
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
  /** A live migration's phase1 + phase2 (until the config moves). */
  migrationDelayMs?: number;
  haDelayMs?: number;
  /** Guests the token may not see (no VM.Audit): left out of /cluster/resources, 403 on their own paths. */
  hiddenVmids?: number[];
  /** The token's privileges by ACL path (access.ts); default: everything on /. */
  acl?: Record<string, string[]>;
  /** phase3_cleanup: from the resume on the target to `qm unlock` (freeing local disks). Default 0. */
  unlockDelayMs?: number;
  /** pvestatd's broadcast interval: /cluster/resources `status` lags by up to this. Default 10 s, like Proxmox; 0 = live. */
  rrdIntervalMs?: number;
  /** A pmxcfs root (temp dir standing for /etc/pve): guest configs are written and moved under `nodes/`. */
  pveRoot?: string;
  /** pveproxy answers a bad token only after a delay (3 s in Proxmox); default 0 here. */
  authFailureDelayMs?: number;
  /** Told about every hookscript call Proxmox would make (migrations, HA recovery, starts, stops). */
  onHook?: (event: SimHookEvent) => void;
}

export interface SimCluster {
  /** The first node's endpoint. */
  url: string;
  /** Every node's endpoint, by node name. */
  urls: Record<string, string>;
  tokenId: string;
  tokenSecret: string;
  state: SimState;
  requests: SimRequest[];
  setMigrationDelay(ms: number): void;
  /** Live migrations stay in their memory transfer until releaseMigrations(). */
  holdMigrations(): void;
  releaseMigrations(): void;
  setHaDelay(ms: number): void;
  setUnlockDelay(ms: number): void;
  /**
   * The next migration fails: in phase1 (`migration aborted`, default), in phase2
   * (`migration problems`, target stopped, VM stays), or after the config moved
   * (`cleanup`/`unlock`: `migration problems` with the VM running on the target).
   */
  failNextMigration(message: string, phase?: SimFailurePhase): void;
  /** An offline node's endpoint stops listening (connections are refused) and it is reported offline; its guests keep their last RRD status. */
  setNodeOnline(node: string, online: boolean): Promise<void>;
  /** Moves a guest's config without a task or hooks (an offline move done by hand). */
  moveVm(vmid: number, node: string): void;
  /** HA recovery after fencing: the config is stolen to `node`, whose LRM starts the guest (start hooks there). */
  recoverVm(vmid: number, node: string): void;
  /** Starts / stops a guest on its node, with its hooks. */
  startVm(vmid: number): void;
  stopVm(vmid: number): void;
  /** Sets a running qemu guest's QMP state (paused, suspended, io-error, ...). */
  setQmpStatus(vmid: number, qmpstatus: string): void;
  /** One pvestatd broadcast now (the RRD catches up with the live state). */
  tickRrd(): void;
  /** pvestatd's broadcast interval from now on (0: live). */
  setRrdInterval(ms: number): void;
  /** Guest events in order (config-moved, resumed, unlocked, ...). */
  events: SimEvent[];
  setHookListener(listener: (event: SimHookEvent) => void): void;
  /** What POST .../migrate does (same checks, same tasks); returns the UPID. */
  migrate(
    vmid: number,
    target: string,
    opts?: { online?: boolean; restart?: boolean; user?: string },
  ): string;
  setAgentInterfaces(vmid: number, interfaces: SimInterface[] | undefined): void;
  setQuorate(quorate: boolean | undefined): void;
  /** Moves the sim's task clock forward (tasks have one-second resolution, like Proxmox's). */
  advanceClock(seconds: number): void;
  addVm(vm: SimVmInput): void;
  /** Answer the next matching request(s) with an error status, e.g. 403 Permission check failed. */
  injectFault(fault: SimFault): void;
  /** Drops every injected fault not used up yet. */
  clearFaults(): void;
  stop(): Promise<void>;
}

export const SIM_TOKEN_ID = "root@pam!pvemigrate";
export const SIM_TOKEN_SECRET = "5f8a3c1e-2b7d-4e6f-9a01-23456789abcd";

function toVm(v: SimVmInput): SimVm {
  const type = v.type ?? "qemu";
  const mac = `BC:24:11:${[(v.vmid >> 16) & 255, (v.vmid >> 8) & 255, v.vmid & 255]
    .map((x) => x.toString(16).toUpperCase().padStart(2, "0"))
    .join(":")}`;
  const defaultNet =
    type === "qemu" ? `virtio=${mac},bridge=vmbr1` : `name=eth0,bridge=vmbr1,hwaddr=${mac},ip=dhcp,type=veth`;
  return {
    vmid: v.vmid,
    type,
    node: v.node,
    status: v.status ?? "running",
    ...((v.status ?? "running") === "running" && type === "qemu"
      ? { qmpstatus: v.qmpstatus ?? "running" }
      : {}),
    tags: v.tags ?? [],
    config: v.config ?? { net0: defaultNet, name: v.name ?? `vm${v.vmid}` },
    ...(v.name !== undefined ? { name: v.name } : { name: `vm${v.vmid}` }),
    ...(v.hastate !== undefined ? { hastate: v.hastate } : {}),
    ...(v.lock !== undefined ? { lock: v.lock } : {}),
    ...(v.agent !== undefined ? { agent: v.agent } : {}),
  };
}

export async function startSimCluster(opts: SimClusterOptions = {}): Promise<SimCluster> {
  const nodeNames =
    typeof opts.nodes === "number"
      ? Array.from({ length: opts.nodes }, (_, i) => `pve${i + 1}`)
      : (opts.nodes ?? ["pve1", "pve2", "pve3"]);
  const vmInputs =
    typeof opts.vms === "number"
      ? Array.from({ length: opts.vms }, (_, i) => ({
          vmid: 100 + i,
          node: nodeNames[i % nodeNames.length]!,
        }))
      : (opts.vms ?? []);
  const state = new SimState({
    nodes: nodeNames,
    vms: vmInputs.map(toVm),
    migrationDelayMs: opts.migrationDelayMs ?? 300,
    haDelayMs: opts.haDelayMs ?? 200,
    unlockDelayMs: opts.unlockDelayMs ?? 0,
    rrdIntervalMs: opts.rrdIntervalMs ?? 10_000,
    ...(opts.pveRoot ? { pveRoot: opts.pveRoot } : {}),
  });
  state.access = new SimAccess({
    ...(opts.hiddenVmids ? { hiddenVmids: opts.hiddenVmids } : {}),
    ...(opts.acl ? { acl: opts.acl } : {}),
  });
  if (opts.onHook) state.onHook = opts.onHook;
  const tokenId = opts.tokenId ?? SIM_TOKEN_ID;
  const tokenSecret = opts.tokenSecret ?? SIM_TOKEN_SECRET;
  const expectedAuth = `PVEAPIToken=${tokenId}=${tokenSecret}`;
  const faults: SimFault[] = [];
  const http = await startSimServers({
    state,
    nodes: nodeNames,
    expectedAuth,
    tokenId,
    faults,
    ...(opts.tls ? { tls: opts.tls } : {}),
    authFailureDelayMs: opts.authFailureDelayMs ?? 0,
  });
  const urls = http.urls;

  return {
    url: urls[nodeNames[0]!]!,
    urls,
    tokenId,
    tokenSecret,
    state,
    requests: state.requests,
    holdMigrations: () => state.holdMigrations(),
    releaseMigrations: () => state.releaseMigrations(),
    setMigrationDelay: (ms) => {
      state.migrationDelayMs = ms;
    },
    setHaDelay: (ms) => {
      state.haDelayMs = ms;
    },
    setUnlockDelay: (ms) => {
      state.unlockDelayMs = ms;
    },
    failNextMigration: (message, phase = "phase1") => {
      state.failNext.push({ message, phase });
    },
    setNodeOnline: http.setNodeOnline,
    moveVm: (vmid, node) => {
      state.node(node);
      state.moveConfig(state.vm(vmid), node);
    },
    recoverVm: (vmid, node) => recoverGuest(state, state.vm(vmid), node),
    startVm: (vmid) => startGuest(state, state.vm(vmid)),
    stopVm: (vmid) => stopGuest(state, state.vm(vmid)),
    setQmpStatus: (vmid, qmpstatus) => {
      const vm = state.vm(vmid);
      if (vm.status !== "running" || vm.type !== "qemu")
        throw new Error(`sim: VM ${vmid} is not a running qemu guest`);
      vm.qmpstatus = qmpstatus;
    },
    tickRrd: () => state.rrd.tick(),
    setRrdInterval: (ms) => state.rrd.setInterval(ms),
    events: state.events,
    setHookListener: (listener) => {
      state.onHook = listener;
    },
    setAgentInterfaces: (vmid, interfaces) => {
      const vm = state.vm(vmid);
      if (interfaces) vm.agent = interfaces;
      else delete vm.agent;
    },
    advanceClock: (seconds) => {
      state.clockOffsetSec += seconds;
    },
    setQuorate: (q) => {
      state.quorateOverride = q;
    },
    addVm: (vm) => {
      const added = toVm(vm);
      state.addVm(added);
      state.rrd.report(added);
    },
    migrate: (vmid, target, o = {}) =>
      requestMigration(state, state.vm(vmid), target, {
        online: o.online ?? state.vm(vmid).status === "running",
        restart: o.restart ?? false,
        user: o.user ?? "root@pam",
      }),
    injectFault: (fault) => {
      faults.push({ ...fault });
    },
    clearFaults: () => {
      faults.length = 0;
    },
    stop: async () => {
      state.stop();
      await http.stop();
    },
  };
}
