import { SimError } from "./errors.ts";
import type { SimState, SimTask, SimVm } from "./state.ts";

// Migrations and HA recovery in the simulated cluster, step by step in the
// order Proxmox takes them, each step checked against its source:
// - API checks: qemu-server PVE/API2/Qemu.pm migrate_vm, pve-container
//   PVE/API2/LXC.pm migrate_vm (target is local node -> quorum -> node exists
//   -> config exists -> lock -> running without --online refused, HA or not ->
//   HA-managed: only an `hamigrate` task that asks the CRM).
// - qemu: pve-guest-common AbstractMigrate::migrate runs prepare, phase1 (die
//   -> `migration aborted`), phase2 (the target's `qm start --migratedfrom`:
//   pre-start + post-start hooks BEFORE memory transfer; a failure is caught,
//   `errors` set -> `migration problems`, and phase2_cleanup stops the target
//   with `qm stop --migratedfrom`, whose vm_stop_cleanup runs post-stop there
//   on qemu-server >= 9.1.13), then QemuMigrate::phase3_cleanup: move the
//   config -> resume on the target -> stop the source (no hooks) -> free local
//   disks -> `qm unlock`; an error there also ends in `migration problems`,
//   with the VM running on the target.
// - lxc restart mode: pve-container src/PVE/LXC/Migrate.pm: prepare stops the
//   CT on the source (stop hooks), phase1 moves the config, final_cleanup
//   unlocks and `pct start`s it on the target (plain start hooks).
// - HA recovery: pve-ha-manager PVE/HA/Env/PVE2.pm steal_service renames the
//   config to the new node; its LRM starts the guest (Resources/PVEVM.pm start
//   -> vm_start): start hooks there, none on the dead node.

/** From the config move to `qm resume` on the target (nbdstop, FDB cleanup): short. */
export const RESUME_AFTER_MOVE_MS = 20;

function duration(task: SimTask, state: SimState): string {
  const s = Math.max(0, state.now() - task.starttime);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(Math.floor(s / 3600))}:${p(Math.floor(s / 60) % 60)}:${p(s % 60)}`;
}

/** Starts a guest on its node the way vm_start does: pre-start hook, process, post-start hook. */
export function startGuest(state: SimState, vm: SimVm, migratedFrom?: string): void {
  state.hook({ node: vm.node, vmid: vm.vmid, phase: "pre-start", ...(migratedFrom ? { migratedFrom } : {}) });
  vm.status = "running";
  if (vm.type === "qemu") vm.qmpstatus = "running";
  state.event(vm, "started");
  state.hook({
    node: vm.node,
    vmid: vm.vmid,
    phase: "post-start",
    ...(migratedFrom ? { migratedFrom } : {}),
  });
}

/** Stops a guest on its node with its stop hooks. */
export function stopGuest(state: SimState, vm: SimVm): void {
  state.hook({ node: vm.node, vmid: vm.vmid, phase: "pre-stop" });
  vm.status = "stopped";
  delete vm.qmpstatus;
  state.event(vm, "stopped");
  state.hook({ node: vm.node, vmid: vm.vmid, phase: "post-stop" });
}

/** POST .../migrate: validates like Proxmox, then starts an hamigrate or the real migration. */
export function requestMigration(
  state: SimState,
  vm: SimVm,
  target: string,
  opts: { online: boolean; restart: boolean; user: string },
): string {
  if (target === vm.node)
    throw new SimError(400, "Parameter verification failed.", { target: "target is local node." });
  if (!state.quorate) throw new SimError(500, "cluster not ready - no quorum?");
  // PVE::Cluster::check_node_exists: a plain die, so 500.
  if (!state.nodes.has(target)) throw new SimError(500, `no such cluster node '${target}'`);
  if (vm.lock) throw new SimError(500, `VM is locked (${vm.lock})`);
  const running = vm.status === "running";
  // Checked before the HA branch: an HA-managed running VM needs --online too.
  if (running && vm.type === "qemu" && !opts.online)
    throw new SimError(500, "can't migrate running VM without --online");
  if (running && vm.type === "lxc" && !opts.online && !opts.restart)
    throw new SimError(500, "can't migrate running container without --online or --restart");
  const realType = vm.type === "qemu" ? "qmigrate" : "vzmigrate";
  if (vm.hastate) {
    // The HA stack owns the guest: the API only queues a request for the CRM,
    // which starts the real migration a bit later on the source node, as root@pam.
    const ha = state.startTask(vm.node, "hamigrate", String(vm.vmid), opts.user);
    ha.log.push(
      `Requesting HA migration for ${vm.type === "qemu" ? "VM" : "CT"} ${vm.vmid} to node ${target}`,
    );
    vm.hastate = "migrate";
    state.after(Math.min(20, state.haDelayMs), () => state.endTask(ha, "OK"));
    state.after(state.haDelayMs, () => {
      runMigration(state, vm, target, realType, "root@pam", { online: running, restart: running });
    });
    return ha.upid;
  }
  return runMigration(state, vm, target, realType, opts.user, opts).upid;
}

/** The qmigrate / vzmigrate worker on the source node. */
export function runMigration(
  state: SimState,
  vm: SimVm,
  target: string,
  type: string,
  user: string,
  opts: { online: boolean; restart: boolean },
): SimTask {
  const source = vm.node;
  const task = state.startTask(source, type, String(vm.vmid), user);
  const failure = state.failNext.shift();
  const d = state.migrationDelayMs;
  const live = vm.status === "running";
  state.setLock(vm, "migrate");
  state.log(
    task,
    `starting migration of ${vm.type === "qemu" ? "VM" : "CT"} ${vm.vmid} to node '${target}' (${state.node(target).ip})`,
  );
  const finish = (exitstatus: string) => {
    if (vm.hastate) vm.hastate = vm.status === "running" ? "started" : "stopped";
    if (exitstatus === "OK")
      state.log(task, `migration finished successfully (duration ${duration(task, state)})`);
    else if (exitstatus === "migration problems")
      state.log(task, `migration finished with problems (duration ${duration(task, state)})`, "err");
    state.endTask(task, exitstatus);
    state.event(vm, "task-ended");
  };
  const abort = (message: string) => {
    state.log(task, message, "err");
    state.setLock(vm, undefined);
    state.log(task, `migration aborted (duration ${duration(task, state)}): ${message}`, "err");
    finish("migration aborted");
  };
  if (!state.node(target).online) {
    // Nothing in the API checks that the target is up: phase1 fails on ssh.
    state.after(Math.min(50, d), () => abort(`Can't connect to destination address using public key`));
    return task;
  }
  if (vm.type === "lxc")
    return runLxcMigration(state, vm, task, target, failure, abort, finish, live && opts);
  if (failure?.phase === "phase1") {
    state.after(d / 2, () => abort(failure.message));
    return task;
  }
  if (live) {
    // phase2: the target's `qm start --migratedfrom` (its hooks), then the memory transfer.
    state.after(d / 4, () => {
      state.event(vm, "target-started", target);
      state.hook({ node: target, vmid: vm.vmid, phase: "pre-start", migratedFrom: source });
      state.hook({ node: target, vmid: vm.vmid, phase: "post-start", migratedFrom: source });
      state.log(task, `start migrate command to unix:/run/qemu-server/${vm.vmid}.migrate`);
    });
    state.after(d / 2, () => state.log(task, "migration active, transferred 512.0 MiB of 1.0 GiB VM-state"));
  }
  state.after(d, () =>
    state.whenReleased(() => {
      if (failure?.phase === "phase2" && live) {
        state.log(task, `online migrate failure - ${failure.message}`, "err");
        state.log(task, "aborting phase 2 - cleanup resources");
        state.log(task, "migrate_cancel");
        state.setLock(vm, undefined);
        state.event(vm, "target-stopped", target);
        state.hook({ node: target, vmid: vm.vmid, phase: "post-stop" });
        finish("migration problems");
        return;
      }
      // phase3_cleanup
      const wasPaused = vm.qmpstatus === "paused";
      state.moveConfig(vm, target);
      if (live) vm.qmpstatus = "paused";
      state.after(RESUME_AFTER_MOVE_MS, () => {
        if (live && !wasPaused) {
          vm.qmpstatus = "running";
          state.event(vm, "resumed", target);
        }
        if (live) state.event(vm, "source-stopped", source);
        state.after(state.unlockDelayMs, () => {
          if (failure?.phase === "cleanup") {
            state.log(
              task,
              `removing local copy of 'local-lvm:vm-${vm.vmid}-disk-0' failed - ${failure.message}`,
              "err",
            );
          }
          if (failure?.phase === "unlock") {
            state.log(task, `failed to clear migrate lock - ${failure.message}`, "err");
          } else {
            state.setLock(vm, undefined);
          }
          finish(failure ? "migration problems" : "OK");
        });
      });
    }),
  );
  return task;
}

function runLxcMigration(
  state: SimState,
  vm: SimVm,
  task: SimTask,
  target: string,
  failure: SimState["failNext"][number] | undefined,
  abort: (message: string) => void,
  finish: (exitstatus: string) => void,
  live: false | { online: boolean; restart: boolean },
): SimTask {
  if (live && !live.restart) {
    state.after(Math.min(50, state.migrationDelayMs), () =>
      abort("lxc live migration is currently not implemented"),
    );
    return task;
  }
  if (live) {
    state.log(task, `shutdown CT ${vm.vmid}`);
    stopGuest(state, vm);
  }
  state.after(state.migrationDelayMs, () => {
    if (failure) {
      // final_cleanup without conf_migrated: unlock, start again on the source.
      abort(failure.message);
      if (live) startGuest(state, vm);
      return;
    }
    state.moveConfig(vm, target);
    state.setLock(vm, undefined);
    if (live) {
      state.log(task, "start container on target node");
      startGuest(state, vm);
    }
    finish("OK");
  });
  return task;
}

/** HA recovery after the guest's node was fenced: the config is stolen to `node`, whose LRM starts it. */
export function recoverGuest(state: SimState, vm: SimVm, node: string): void {
  state.node(node);
  const wasRunning = vm.status === "running";
  vm.status = "stopped";
  delete vm.qmpstatus;
  state.moveConfig(vm, node);
  state.event(vm, "recovered", node);
  if (vm.hastate) vm.hastate = "recovery";
  state.after(state.haDelayMs, () => {
    if (wasRunning || vm.hastate) startGuest(state, vm);
    if (vm.hastate) vm.hastate = "started";
  });
}
