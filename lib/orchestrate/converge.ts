import { missingConfiguredVms } from "../cluster/index.ts";
import { computeDesired } from "../desired/compute.ts";
import { InputError } from "../errors.ts";
import { createNatBackend } from "../nat/backend.ts";
import { localNodeName } from "../node-name.ts";
import { holdUnresolved, planNode } from "../plan/index.ts";
import { createProxyBackend, servingRoutes } from "../proxy/backend.ts";
import { execOn } from "../remote/apply.ts";
import { type ObserveOptions, observe, type World } from "./observe.ts";
import type { Runtime } from "./runtime.ts";

// Converging one node: observe -> desired -> (nft, proxy) plan -> apply, all
// under the node's local lock, so a hook's worker and the timer's reconcile
// never interleave their reads and writes. Works on this node, or (netns
// transport) on a simulated node of this machine.

export interface NodeConvergence {
  node: string;
  /** Plan lines, "+ tcp/2222 -> ..." style; empty when the node already matched. */
  changes: string[];
  applied: boolean;
  /** Problems the desired state carries: unresolved IPs, port conflicts between VMs. */
  warnings: string[];
}

export interface ConvergeOptions extends ObserveOptions {
  dryRun?: boolean;
}

export async function convergeNode(
  rt: Runtime,
  node: string,
  opts: ConvergeOptions = {},
): Promise<NodeConvergence> {
  // Under ssh a process only ever touches its own host: converging another
  // node here would write that node's table into this host's ruleset.
  if (rt.config.remote.transport === "ssh" && node !== localNodeName()) {
    throw new InputError(`--node: ${node} is not this host (${localNodeName()}); run it on ${node}`);
  }
  return rt.state.withLock(`node-${node}`, async () => {
    const world = await observe(rt, { ...opts, resolveOn: [node] });
    await noteUnrecordedDepartures(rt, world, node, opts.dryRun ?? false);
    return convergeObserved(rt, world, node, opts.dryRun ?? false);
  });
}

/**
 * A VM last switched to `node` runs on another node now, and nobody recorded
 * its departure yet: the new node's switch has not run (its hook's worker is
 * still busy, the migration was offline, the new node's timer comes later).
 * Its names still point here, so `node` must grace-forward to it, not drop
 * it. Recorded once (the grace period runs from now); the new node's switch
 * records the departure again when it runs.
 */
async function noteUnrecordedDepartures(
  rt: Runtime,
  world: World,
  node: string,
  dryRun: boolean,
): Promise<void> {
  const elsewhere = world.placements.filter((p) => p.node !== node && p.status === "running");
  if (elsewhere.length === 0) return;
  // One listing, not one read per VM: this runs on every convergence.
  const lastByVmid = new Map((await rt.state.lastApplied.list()).map((r) => [r.vmid, r]));
  for (const p of elsewhere) {
    const last = lastByVmid.get(p.vmid);
    const ip = last?.privateIPs[0];
    if (last?.node !== node || !ip) continue;
    const since = Date.parse(last.appliedAt);
    if (world.departures.some((d) => d.vmid === p.vmid && d.node === node && d.leftAt >= since)) continue;
    const departure = { vmid: p.vmid, node, ip, leftAt: rt.now() };
    if (!dryRun) await rt.departures.add(departure);
    // Replaces an older departure of the same pair (from an earlier stay), as the store does.
    world.departures = [...world.departures.filter((d) => d.vmid !== p.vmid || d.node !== node), departure];
  }
}

export async function convergeObserved(
  rt: Runtime,
  world: World,
  node: string,
  dryRun: boolean,
): Promise<NodeConvergence> {
  const now = rt.now();
  const desired = computeDesired(world.config, world.placements, world.departures, now);
  const nodeDesired = desired.nodes[node];
  if (!nodeDesired) throw new Error(`node ${node} is not in the config`);
  const exec = execOn(world.config, node);
  const nat = createNatBackend({ nat: world.config.nat, exec, clock: rt.now });
  const proxy = createProxyBackend({ proxy: world.config.proxy, exec });
  const natCurrent = await nat.current();
  const proxyCurrent = await proxy.current();
  const unresolvedHere = desired.unresolved
    .filter((u) => world.placements.some((p) => p.vmid === u.vmid && p.node === node))
    .flatMap((u) => world.config.vms[String(u.vmid)] ?? []);
  // A configured VM the snapshot does not list may run here unseen (no VM.Audit): keep what it has.
  const unseen = missingConfiguredVms(Object.keys(world.config.vms), world.snapshot).flatMap(
    (vmid) => world.config.vms[String(vmid)] ?? [],
  );
  const held = holdUnresolved(nodeDesired, [...unresolvedHere, ...unseen], {
    forwards: natCurrent.forwards,
    routes: servingRoutes(proxyCurrent),
  });
  const plan = planNode(
    held,
    { backend: nat, current: natCurrent },
    { backend: proxy, current: proxyCurrent },
    now,
  );
  const { changes } = plan;
  if (!dryRun) {
    await nat.apply(plan.nat);
    await proxy.apply(plan.proxy);
  }
  const warnings = [
    ...desired.unresolved
      .filter((u) => world.placements.some((p) => p.vmid === u.vmid && p.node === node))
      .map((u) => `VM ${u.vmid}: ${u.reason}`),
    ...desired.conflicts
      .filter((c) => c.node === node)
      .map((c) => `${c.key} on ${c.node}: kept for VM ${c.kept}, VM ${c.dropped} left out`),
  ];
  for (const w of warnings) rt.log(w);
  if (changes.length && !dryRun) for (const line of changes) rt.log(`${node} ${line}`);
  return { node, changes, applied: !dryRun && changes.length > 0, warnings };
}
