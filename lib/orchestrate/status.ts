import { messageOf } from "../errors.ts";
import { observe } from "./observe.ts";
import type { Runtime } from "./runtime.ts";

// `status`: for every configured VM, where it runs, where its names point
// (asked at the masters) and where we last switched it; plus pending work.

export interface VmStatus {
  vmid: number;
  node?: string;
  status: string;
  lastAppliedNode?: string;
  names: Array<{
    name: string;
    addresses: string[];
    expected: string[];
    error?: string;
    /** Masters and name servers (dns.propagation) that answer something else: "server=answer". */
    lagging?: string[];
  }>;
}

export interface ClusterStatus {
  quorate: boolean;
  nodes: Array<{ name: string; online: boolean; publicIPv4: string }>;
  vms: VmStatus[];
  pending: Array<{ id: string; attempts: number; lastError?: string }>;
  /** What VMs' Notes asked for and did not get (escaped lines). */
  notes: string[];
  text: string[];
}

export async function clusterStatus(rt: Runtime): Promise<ClusterStatus> {
  const world = await observe(rt);
  const out: ClusterStatus = {
    quorate: world.snapshot.quorate,
    nodes: Object.values(world.config.nodes).map((n) => ({
      name: n.name,
      online: world.snapshot.nodes.find((s) => s.name === n.name)?.online ?? false,
      publicIPv4: n.publicIPv4,
    })),
    vms: [],
    pending: [],
    notes: world.notes,
    text: [],
  };
  for (const vm of Object.values(world.config.vms)) {
    const p = world.placements.find((x) => x.vmid === vm.vmid);
    const node = p ? world.config.nodes[p.node] : undefined;
    const expected =
      p?.status === "running" && node ? [node.publicIPv4, ...(node.publicIPv6 ? [node.publicIPv6] : [])] : [];
    const names: VmStatus["names"] = [];
    for (const name of vm.dns) {
      try {
        const r = await rt.dns.query(name);
        names.push({ name, addresses: [...r.a, ...r.aaaa], expected });
      } catch (err) {
        names.push({ name, addresses: [], expected, error: messageOf(err) });
      }
    }
    const last = await rt.state.lastApplied.get(vm.vmid);
    out.vms.push({
      vmid: vm.vmid,
      ...(p ? { node: p.node } : {}),
      status: p?.status ?? "missing",
      ...(last ? { lastAppliedNode: last.node } : {}),
      names,
    });
  }
  await markLagging(rt, out.vms);
  for (const journal of [rt.state.cluster, rt.state.local]) {
    for (const item of await journal.list()) {
      out.pending.push({
        id: item.id,
        attempts: item.attempts,
        ...(item.lastError ? { lastError: item.lastError } : {}),
      });
    }
  }
  out.text.push(
    `cluster ${out.quorate ? "quorate" : "NOT quorate"}; nodes: ${out.nodes.map((n) => `${n.name} ${n.publicIPv4}${n.online ? "" : " (offline)"}`).join(", ")}`,
  );
  for (const v of out.vms) {
    const dns = v.names
      .map((n) => {
        const ok = n.expected.length === 0 || n.addresses.join() === n.expected.join();
        const lag = n.lagging?.length ? ` (still answered elsewhere: ${n.lagging.join(" ")})` : "";
        return `${n.name}=${n.error ? `? (${n.error})` : n.addresses.join(",") || "-"}${ok ? "" : " (drift)"}${lag}`;
      })
      .join(" ");
    out.text.push(
      `VM ${v.vmid}: ${v.status} on ${v.node ?? "-"}${v.lastAppliedNode && v.lastAppliedNode !== v.node ? ` (last switched to ${v.lastAppliedNode})` : ""} ${dns}`.trimEnd(),
    );
  }
  if (out.pending.length)
    out.text.push(`pending: ${out.pending.map((p) => `${p.id} (${p.attempts} failed)`).join(", ")}`);
  for (const line of out.notes) out.text.push(`notes ignored: ${line}`);
  return out;
}

/**
 * Which masters and name servers still answer a running VM's names with
 * something other than its node's addresses (a secondary behind NOTIFY, a
 * master a write did not reach, resolvers' upstream still old). One pass,
 * no waiting; a failed check leaves the names as they are.
 */
async function markLagging(rt: Runtime, vms: VmStatus[]): Promise<void> {
  const names = vms.flatMap((v) => v.names.filter((n) => n.expected.length > 0 && !n.error));
  if (names.length === 0) return;
  const split = (xs: string[]) => ({
    a: xs.filter((x) => !x.includes(":")),
    aaaa: xs.filter((x) => x.includes(":")),
  });
  const report = await rt.dns
    .checkPropagation(names.map((n) => ({ name: n.name, expected: split(n.expected) })))
    .catch(() => undefined);
  for (const n of names) {
    const lagging = (report?.lagging ?? [])
      .filter((l) => l.name === n.name)
      .map((l) => `${l.server}=${l.answer.join(",") || "-"}`);
    if (lagging.length) n.lagging = lagging;
  }
}
