import { z } from "zod";
import { PeerError } from "../errors.ts";
import type { ProxmoxClient } from "./client.ts";
import type { ClusterSnapshot, SnapshotNode, SnapshotVm } from "./types.ts";

// The whole cluster in two requests, whatever its size: /cluster/status (nodes,
// quorum) and /cluster/resources?type=vm (every guest with node, status, lock,
// hastate, tags), sent in parallel. Per-guest data (config, agent) is fetched
// only for the guests that need it.

const flag = z
  .union([z.number(), z.boolean(), z.string()])
  .transform((v) => v === 1 || v === true || v === "1");

const statusItem = z.union([
  z.object({ type: z.literal("cluster"), quorate: flag.optional() }),
  z.object({
    type: z.literal("node"),
    name: z.string(),
    ip: z.string().optional(),
    online: flag.optional(),
    local: flag.optional(),
  }),
  z.object({ type: z.string() }),
]);

const resourceItem = z.object({
  vmid: z.coerce.number().int().positive(),
  type: z.enum(["qemu", "lxc"]),
  node: z.string(),
  status: z.string().default("unknown"),
  name: z.string().optional(),
  tags: z.string().optional(),
  hastate: z.string().optional(),
  lock: z.string().optional(),
  template: flag.optional(),
});

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new PeerError(
    `Proxmox API ${what}: unexpected answer at ${issue?.path.join(".") || "(root)"}: ${issue?.message}`,
  );
}

/**
 * PURE: a guest's status as the rest of the code reads it. Proxmox reports
 * QMP states there (pve-manager pvestatd update_qemu_status: `$d->{qmpstatus}
 * || $d->{status}`): paused, suspended, prelaunch, inmigrate, postmigrate,
 * io-error, ... all mean a QEMU process exists, so the guest is present and
 * keeps its forwards and names: "running". `stopped` stays; anything else
 * (no RRD entry yet or any more) is "unknown".
 */
export function presence(status: string): "running" | "stopped" | "unknown" {
  if (status === "stopped") return "stopped";
  if (status === "unknown" || status === "") return "unknown";
  return "running";
}

/** Proxmox separates tags with ";" (also accepts "," and spaces on input). */
export function splitTags(tags: string | undefined): string[] {
  return (tags ?? "").split(/[;, ]+/).filter(Boolean);
}

export function parseClusterStatus(data: unknown): { quorate: boolean; nodes: SnapshotNode[] } {
  const items = parse(z.array(statusItem), data, "GET /cluster/status");
  let quorate = false;
  const nodes: SnapshotNode[] = [];
  for (const item of items) {
    if (item.type === "cluster" && "quorate" in item) quorate = item.quorate ?? false;
    if (item.type === "node" && "name" in item) {
      nodes.push({
        name: item.name,
        ip: item.ip ?? "",
        online: item.online ?? false,
        local: item.local ?? false,
      });
    }
  }
  // A single node without a cluster has no "cluster" entry and is trivially quorate.
  if (!items.some((i) => i.type === "cluster") && nodes.length === 1) quorate = true;
  return { quorate, nodes };
}

export function parseResources(data: unknown): SnapshotVm[] {
  const items = parse(z.array(z.unknown()), data, "GET /cluster/resources");
  const vms: SnapshotVm[] = [];
  for (const [i, raw] of items.entries()) {
    const type = (raw as { type?: unknown })?.type;
    if (type !== "qemu" && type !== "lxc") continue;
    const r = parse(resourceItem, raw, `GET /cluster/resources [${i}]`);
    const vm: SnapshotVm = {
      vmid: r.vmid,
      type: r.type,
      node: r.node,
      status: presence(r.status),
      tags: splitTags(r.tags),
    };
    if (presence(r.status) === "running" && r.status !== "running") vm.qmpstatus = r.status;
    if (r.lock) vm.lock = r.lock;
    if (r.hastate) vm.hastate = r.hastate;
    if (r.name) vm.name = r.name;
    if (r.template) vm.template = true;
    vms.push(vm);
  }
  return vms.sort((a, b) => a.vmid - b.vmid);
}

export async function getSnapshot(client: ProxmoxClient): Promise<ClusterSnapshot> {
  const [status, resources] = await Promise.all([
    client.request("GET", "/cluster/status"),
    client.request("GET", "/cluster/resources", { type: "vm" }),
  ]);
  return { ...parseClusterStatus(status), vms: parseResources(resources), takenAt: Date.now() };
}

/** GET /nodes/{node}/{qemu|lxc}/{vmid}/config: the guest's config as key -> value. */
export async function getVmConfig(
  client: ProxmoxClient,
  vm: Pick<SnapshotVm, "vmid" | "type" | "node">,
): Promise<Record<string, string>> {
  const data = await client.request(
    "GET",
    `/nodes/${encodeURIComponent(vm.node)}/${vm.type}/${vm.vmid}/config`,
  );
  const obj = parse(z.record(z.string(), z.unknown()), data, `GET config of ${vm.type} ${vm.vmid}`);
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, String(v)]));
}

/**
 * The Notes (description) of the given guests, which may carry a config block.
 * Guests not in the snapshot, or on an offline node, are skipped; a guest
 * without Notes maps to "". At most `concurrency` requests are in flight.
 */
export async function getVmDescriptions(
  client: ProxmoxClient,
  snapshot: ClusterSnapshot,
  vmids: Iterable<number>,
  concurrency = 8,
): Promise<Map<number, string>> {
  const online = new Set(snapshot.nodes.filter((n) => n.online).map((n) => n.name));
  const wanted = new Set(vmids);
  const todo = snapshot.vms.filter((vm) => wanted.has(vm.vmid) && online.has(vm.node));
  const out = new Map<number, string>();
  let next = 0;
  async function worker() {
    while (next < todo.length) {
      const vm = todo[next++]!;
      const config = await getVmConfig(client, vm);
      out.set(vm.vmid, config.description ?? "");
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
  return out;
}
