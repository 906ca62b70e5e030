import type { Config } from "../config/types.ts";
import { computeDesired } from "../desired/compute.ts";
import { masterLabel } from "../dns/errors.ts";
import { messageOf } from "../errors.ts";
import { observe } from "../orchestrate/observe.ts";
import type { Runtime } from "../orchestrate/runtime.ts";
import { entriesOf, masterAnswer, nameDrift, nodeEntryList, pendingOf } from "./derive.ts";
import { readNode } from "./node-read.ts";
import type { MasterAnswer, NameStatus, NodeEntries, StatusReport, VmStatus } from "./types.ts";

// READ-ONLY: everything `status` shows, gathered from the cluster: one
// snapshot (with the Notes merged), every configured name asked at every
// master candidate, every node's forwards and routes (node-read.ts), both
// journals. Nothing is written, no lock is taken: status may run while a
// switch or a reconcile does. The decisions are in derive.ts, the text in
// render.ts.

async function answersFor(rt: Runtime, name: string, vmid: number): Promise<MasterAnswer[]> {
  return Promise.all(
    rt.config.dns.masters.map(async (m): Promise<MasterAnswer> => {
      const master = masterLabel(m);
      try {
        return masterAnswer(master, await rt.dns.query(name, m), rt.config.dns.ownerId, vmid);
      } catch (err) {
        return { master, error: messageOf(err).split("\n")[0] ?? "no answer" };
      }
    }),
  );
}

/**
 * `here`: the node this host is, whose nft and proxy can be read directly;
 * undefined when this host is none of the config's nodes (every node is then
 * read over the remote transport). `rt` may act as any node: status changes nothing,
 * and each node's paths come from `loaded`, filled in for that node.
 */
/**
 * Which other servers (dns.propagation: listed ones, the NS set) still answer
 * a running VM's names with something else: a secondary behind NOTIFY,
 * resolvers' upstream still old. One pass, no waiting; a failed check leaves
 * the names as they are.
 */
async function markLagging(rt: Runtime, vms: VmStatus[]): Promise<void> {
  const names = vms.flatMap((v) => v.names.filter((n) => n.expected.length > 0));
  if (names.length === 0) return;
  const split = (xs: string[]) => ({
    a: xs.filter((x) => !x.includes(":")),
    aaaa: xs.filter((x) => x.includes(":")),
  });
  const report = await rt.dns
    .checkPropagation(names.map((n) => ({ name: n.name, expected: split(n.expected) })))
    .catch(() => undefined);
  const masters = new Set(rt.config.dns.masters.map(masterLabel));
  for (const n of names) {
    const lagging = (report?.lagging ?? [])
      .filter((l) => l.name === n.name && !masters.has(l.server))
      .map((l) => `${l.server}=${l.answer.join(",") || "-"}`);
    if (lagging.length) n.lagging = lagging;
  }
}

export async function collectStatus(
  rt: Runtime,
  here: string | undefined,
  /** The config as loaded: per-node templates ({node} in paths) not yet filled in for rt's node. */
  loaded: Config,
): Promise<StatusReport> {
  const now = rt.now();
  // Guest agents are asked only for this node's guests; others show the address last switched to.
  const world = await observe(rt, { resolveOn: here ? [here] : [] });
  const desired = computeDesired(world.config, world.placements, world.departures, now, world.moves);
  const report: StatusReport = {
    quorate: world.snapshot.quorate,
    nodes: [],
    vms: [],
    pending: [],
    notes: world.notes,
    errors: [],
  };
  const read: NodeEntries[] = [];
  for (const n of Object.values(world.config.nodes)) {
    const online = world.snapshot.nodes.find((s) => s.name === n.name)?.online ?? false;
    let error: string | undefined;
    try {
      read.push(await readNode(loaded, n.name, here, now));
    } catch (err) {
      error = messageOf(err);
      report.errors.push(`node ${n.name}: ${error}`);
    }
    report.nodes.push({
      name: n.name,
      online,
      publicIPv4: n.publicIPv4,
      ...(n.publicIPv6 ? { publicIPv6: n.publicIPv6 } : {}),
      ...(error ? { error } : {}),
    });
  }
  const entries = nodeEntryList(read, now);
  const lastApplied = new Map((await rt.state.lastApplied.list()).map((l) => [l.vmid, l]));
  for (const vm of Object.values(world.config.vms)) {
    const fileVm = rt.config.vms[String(vm.vmid)];
    const p = world.placements.find((x) => x.vmid === vm.vmid);
    const last = lastApplied.get(vm.vmid);
    const ip = p?.ip ?? last?.privateIPs[0];
    const ip6 = p?.ip6 ?? (vm.ip6?.kind === "static" ? vm.ip6.address : last?.privateIPv6);
    const names: NameStatus[] = [];
    for (const name of vm.dns) {
      const want = desired.dns.find((d) => d.name === name && d.vmid === vm.vmid);
      const expected = want ? [...want.a, ...want.aaaa] : [];
      const masters = await answersFor(rt, name, vm.vmid);
      for (const m of masters) if (m.error) report.errors.push(`${name} at ${m.master}: ${m.error}`);
      names.push({
        name,
        fromNotes: !fileVm?.dns.includes(name),
        expected,
        masters,
        drift: nameDrift(expected, masters),
      });
    }
    const status: VmStatus = {
      vmid: vm.vmid,
      ...(p ? { node: p.node } : {}),
      state: p?.status ?? "missing",
      fromNotes: fileVm === undefined,
      address: {
        ...(ip ? { ip } : {}),
        ...(ip6 ? { ip6 } : {}),
        source: vm.ip.kind,
        ...(vm.ip6 ? { ip6Source: vm.ip6.kind } : {}),
      },
      ...(last ? { lastSwitchedTo: last.node } : {}),
      names,
      ...entriesOf(
        entries,
        [ip, ip6].flatMap((a) => (a ? [a] : [])),
        p?.node,
      ),
    };
    report.vms.push(status);
  }
  await markLagging(rt, report.vms);
  report.pending.push(...pendingOf(await rt.state.cluster.list(), "cluster", now));
  for (const n of read) report.pending.push(...n.pending);
  return report;
}
