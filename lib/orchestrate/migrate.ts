import { setTimeout as sleep } from "node:timers/promises";
import { type GuestType, getSnapshot, type MigrateProgress, migrate } from "../cluster/index.ts";
import { masterLabel } from "../config/values.ts";
import { collisionsOnNode, computeDesired, type DesiredState } from "../desired/compute.ts";
import { forwardKey, routeKey } from "../desired/keys.ts";
import { type PlannedMove, propagationAllowanceSeconds } from "../desired/ttl.ts";
import { InputError, messageOf, PeerError } from "../errors.ts";
import type { Change } from "../plan/types.ts";
import { routeTarget } from "../proxy/routes.ts";
import { runOnNode } from "../remote/apply.ts";
import { type RemoteSwitchReport, remoteApplied, remoteSwitchReport } from "../remote/reports.ts";
import type { Runtime } from "./runtime.ts";
import { type SwitchReport, switchVm } from "./switch.ts";
import { endMove, lowerTtl, planTtl, restoreAt, type TtlPlan, waitRefusal } from "./ttl-move.ts";

// `pvemigrate-dns migrate VMID TARGET`: check first, lower the TTL of the
// VM's names and wait out the old one (ttl-move.ts), migrate once through the
// API, follow the task, switch the VM's public face on the target and the
// old node, verify, and say what changed and how long the VM was unreachable.
// The TTL goes back to dns.ttl once the old node's grace period is over.

export interface MigratePlan {
  vmid: number;
  /** qemu (qmigrate) or lxc (vzmigrate, restart mode). */
  type: GuestType;
  from: string;
  to: string;
  online: boolean;
  /** What the target will forward and route for the VM, and where its names will point. */
  forwards: string[];
  routes: string[];
  dns: string[];
  /** The same as change objects (lib/plan/types.ts): what the switch after the migration adds and moves. */
  changes: Change[];
  /** The TTL choreography; unset for a VM without names. */
  ttl?: TtlPlan;
}

export interface MigrateOptions {
  /** Migrate at once, without waiting out the names' old TTL. */
  noWait?: boolean;
  /** How the wait is spent (tests observe the lowered TTL here instead of sleeping). */
  sleep?: (ms: number) => Promise<void>;
}

export interface MigrateSummary extends MigratePlan {
  upid?: string;
  taskSeconds?: number;
  /** Downtime QEMU reported for the switch-over, when the task log says. */
  qemuDowntimeMs?: number;
  /** From the end of the migration task to routes and DNS switched. */
  switchSeconds?: number;
  /** The switch's report: this node's own, or the target's read back (validated, reports.ts). */
  switch?: SwitchReport | RemoteSwitchReport;
  verified?: { dns: string[]; forwardsInPlace: boolean };
  /**
   * The task failed AFTER the guest's config moved (`migration problems`:
   * freeing the source's disks or the unlock failed): the guest runs on the
   * target and was switched, but Proxmox left something to clean up.
   */
  taskProblems?: string;
  /** The names' TTL during the move: lowered to `moveTtl`, back to dns.ttl at `restoreAt` (ISO). */
  ttlMove?: { moveTtl: number; oldTtl?: number; waitedSeconds: number; restoreAt: string };
  pending: string[];
}

export async function preflight(
  rt: Runtime,
  vmid: number,
  to: string,
  online?: boolean,
): Promise<MigratePlan> {
  const config = rt.config;
  if (!config.nodes[to]) {
    throw new InputError(`TARGET: unknown node "${to}" (known: ${Object.keys(config.nodes).join(", ")})`);
  }
  if (!config.vms[String(vmid)]) throw new InputError(`VMID: VM ${vmid} is not in the config`);
  const snapshot = await getSnapshot(rt.proxmox);
  const vm = snapshot.vms.find((v) => v.vmid === vmid);
  if (!vm) throw new InputError(`VMID: VM ${vmid} does not exist in the cluster`);
  if (vm.node === to) throw new InputError(`TARGET: VM ${vmid} already runs on ${to}`);
  if (!snapshot.quorate) throw new PeerError("the cluster is not quorate: no migration now");
  const target = snapshot.nodes.find((n) => n.name === to);
  if (!target?.online) throw new PeerError(`TARGET: node ${to} is offline`);
  if (vm.lock) throw new PeerError(`VM ${vmid} is locked (${vm.lock})`);
  const placements = snapshot.vms.map((v) => ({ vmid: v.vmid, node: v.node, status: v.status }));
  const collisions = collisionsOnNode(config, vmid, to, placements);
  if (collisions.length)
    throw new InputError(`TARGET: VM ${vmid} would collide on ${to}: ${collisions.join("; ")}`);
  // Masters reachable: a migration whose DNS cannot follow is refused up front.
  await rt.dns.querySoa().catch((err: unknown) => {
    throw new PeerError(`no DNS master answers (${messageOf(err)}); not migrating`);
  });
  const moved = placements.map((p) =>
    p.vmid === vmid ? { ...p, node: to, status: "running", ip: "<vm-ip>" } : p,
  );
  const desired = computeDesired(config, moved, [], rt.now());
  const onTarget = desired.nodes[to]!;
  const changes = migrateChanges(desired, vmid, to);
  const ttl = await planTtl(
    rt,
    desired.dns.filter((d) => d.vmid === vmid).map((d) => d.name),
  );
  return {
    ...(ttl ? { ttl } : {}),
    vmid,
    from: vm.node,
    to,
    type: vm.type,
    online: online ?? vm.status === "running",
    forwards: onTarget.forwards
      .filter((f) => f.vmid === vmid)
      .map((f) => `${f.proto}/${f.publicPort} -> ${f.targetPort}`),
    routes: onTarget.routes
      .filter((r) => r.vmid === vmid)
      .map((r) => `${r.kind} ${r.name} -> ${r.targetPort}`),
    dns: desired.dns
      .filter((d) => d.vmid === vmid)
      .map((d) => `${d.name} -> ${[...d.a, ...d.aaaa].join(",")}`),
    changes,
  };
}

/**
 * PURE: what moving `vmid` to `to` changes, as change objects: the target's
 * forwards and routes for it (their target is the VM's address, known once it
 * runs there: `desired` holds a placeholder) and its names pointed at the target.
 */
export function migrateChanges(desired: DesiredState, vmid: number, to: string): Change[] {
  const onTarget = desired.nodes[to];
  const mine = (e: { vmid: number }) => e.vmid === vmid;
  const add = (backend: "nat" | "proxy", key: string, after: string): Change => ({
    op: "add",
    backend,
    node: to,
    vmid,
    key,
    after,
  });
  const forwards = (onTarget?.forwards ?? [])
    .filter(mine)
    .map((f) => add("nat", forwardKey(f), `${f.target}:${f.targetPort}`));
  const routes = (onTarget?.routes ?? [])
    .filter(mine)
    .map((r) => add("proxy", routeKey(r), routeTarget(r.target, r.targetPort)));
  const names: Change[] = desired.dns
    .filter((d) => d.vmid === vmid)
    .map((d) => ({ op: "update", backend: "dns", vmid, key: d.name, after: [...d.a, ...d.aaaa].join(",") }));
  return [...forwards, ...routes, ...names];
}

function describe(p: MigrateProgress): string {
  switch (p.kind) {
    case "submitted":
      return `submitted ${p.taskType} task`;
    case "ha-queued":
      return "queued with the HA stack";
    case "task-started":
      return `migration task started on ${p.node}`;
    case "log":
      return p.line;
    case "finished":
      return `task finished: ${p.exitstatus}`;
  }
}

export async function runMigration(
  rt: Runtime,
  plan: MigratePlan,
  onProgress: (line: string) => void,
  opts: MigrateOptions = {},
): Promise<MigrateSummary> {
  const summary: MigrateSummary = { ...plan, pending: [] };
  const refusal = waitRefusal(plan.ttl, opts.noWait ?? false);
  if (refusal) throw new InputError(refusal);
  const move = plan.ttl ? await lowerAndWait(rt, plan, plan.ttl, onProgress, opts) : undefined;
  const started = rt.now();
  let submitted = false;
  const result = await migrate(
    rt.proxmox,
    { vmid: plan.vmid, from: plan.from, to: plan.to, online: plan.online, type: plan.type },
    (p) => {
      submitted = true;
      if (p.kind === "log") {
        const m = /downtime\D{0,20}(\d+)\s*ms/i.exec(p.line);
        if (m) summary.qemuDowntimeMs = Number(m[1]);
      }
      onProgress(describe(p));
    },
  ).catch(async (err: unknown) => {
    // No task came back: Proxmox refused the POST (qemu-server API2/Qemu.pm migrate_vm dies on
    // its checks before fork_worker), so the names get their TTL back now. Once a task exists
    // its outcome is unknown here: the planned move's expiry bounds the lowered TTL.
    if (move && !submitted)
      await endMove(rt, move).catch((e: unknown) => rt.log(`TTL not restored: ${messageOf(e)}`));
    throw err;
  });
  summary.upid = result.realUpid ?? result.upid;
  const finished = rt.now();
  summary.taskSeconds = (finished - started) / 1000;
  if (!result.ok) {
    // `migration problems` is set both when phase2 failed (the VM stayed) and
    // when phase3_cleanup failed after the config moved (the VM runs on the
    // target): pve-guest-common AbstractMigrate::migrate. Only the guest's
    // placement now tells which; its `node` comes from its config file.
    const reason = result.error ?? result.exitstatus;
    const now = (await getSnapshot(rt.proxmox)).vms.find((v) => v.vmid === plan.vmid);
    if (now?.node !== plan.to) {
      // Nothing moved: the names get their TTL back now (else reconcile does, from the desired state).
      if (move)
        await endMove(rt, move).catch((err: unknown) => rt.log(`TTL not restored: ${messageOf(err)}`));
      throw new PeerError(`migration of VM ${plan.vmid} failed: ${reason}; nothing changed`);
    }
    summary.taskProblems = reason;
    onProgress(`the task failed after the VM moved to ${plan.to} (${reason}); switching`);
  }

  // The switch runs on the target: it owns the target's nft and haproxy.
  const args = ["switch", String(plan.vmid), "--from", plan.from];
  try {
    summary.switch =
      plan.to === rt.self
        ? await switchVm(rt, plan.vmid, { from: plan.from })
        : await runOnNode(rt.config, plan.to, args, { schema: remoteSwitchReport, what: "switch report" });
    summary.pending = summary.switch.pending ?? [];
  } catch (err) {
    // The VM has moved: the target's hook worker and its reconcile finish the switch.
    summary.pending = [`switch on ${plan.to}: ${messageOf(err)} (its hook worker or reconcile finishes it)`];
  }
  summary.switchSeconds = (rt.now() - finished) / 1000;
  if (move && plan.ttl) {
    // As the departures say now; unreadable, the planned move's expiry is the latest it can be.
    const back = await restoreAt(rt, move).catch(() => move.expiresAt);
    summary.ttlMove = {
      moveTtl: move.moveTtl,
      ...(plan.ttl.oldTtl === undefined ? {} : { oldTtl: plan.ttl.oldTtl }),
      waitedSeconds: opts.noWait ? 0 : plan.ttl.waitSeconds,
      restoreAt: new Date(back).toISOString(),
    };
  }

  const dns: string[] = [];
  for (const line of plan.dns) {
    const name = line.split(" ")[0]!;
    for (const master of rt.config.dns.masters) {
      const label = masterLabel(master);
      try {
        const r = await rt.dns.query(name, master);
        dns.push(`${name} at ${label}: ${[...r.a, ...r.aaaa].join(",") || "(none)"}`);
      } catch (err) {
        dns.push(`${name} at ${label}: ${messageOf(err)}`);
      }
    }
  }
  const check = await runOnNode(rt.config, plan.to, ["apply", "--local", "--dry-run"], {
    schema: remoteApplied,
    what: "list of changes",
  }).catch(() => undefined);
  summary.verified = { dns, forwardsInPlace: check !== undefined && check.changes.length === 0 };
  return summary;
}

/** Lowers the names' TTL, then waits out the old one (unless --no-wait), saying what it waits for. */
async function lowerAndWait(
  rt: Runtime,
  plan: MigratePlan,
  t: TtlPlan,
  onProgress: (line: string) => void,
  opts: MigrateOptions,
): Promise<PlannedMove> {
  const move = await lowerTtl(rt, plan, t);
  const was = t.oldTtl === undefined ? "" : ` (was ${t.oldTtl} s)`;
  onProgress(`TTL of ${t.names.join(", ")} lowered to ${t.moveTtl} s${was}`);
  if (t.waitSeconds > 0 && opts.noWait) {
    onProgress(`not waiting (--no-wait): resolvers may keep the old address up to ${t.oldTtl} s`);
  } else if (t.waitSeconds > 0) {
    const propagation = propagationAllowanceSeconds(rt.config);
    onProgress(
      `waiting ${t.waitSeconds} s for resolvers to drop the old TTL (${t.oldTtl} s + ${propagation} s propagation)`,
    );
    await (opts.sleep ?? sleep)(t.waitSeconds * 1000);
  }
  return move;
}
