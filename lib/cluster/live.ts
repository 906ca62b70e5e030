import { access, readdir } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { messageOf, PeerError } from "../errors.ts";
import { ProxmoxApiError, type ProxmoxClient } from "./client.ts";
import { presence } from "./snapshot.ts";
import type { ClusterSnapshot, GuestType } from "./types.ts";

// Live data about the ONE guest being switched or stopped. /cluster/resources
// is the cheap whole-cluster view, but its `status` comes from the RRD: up to
// ~10 s old, and a dead node's guests keep their last status for minutes
// (pve-manager PVE/API2/Cluster.pm resources -> PVE::Cluster::rrd_dump). Two
// sources are immediate:
// - the config file's location in pmxcfs (`/etc/pve/nodes/<node>/qemu-server/
//   <vmid>.conf`): where the guest lives, moved by one rename
//   (PVE::AbstractConfig::move_config_to_node in QemuMigrate::phase3_cleanup);
// - GET /nodes/{node}/{type}/{vmid}/status/current (qemu-server
//   PVE/API2/Qemu.pm vm_status -> vmstatus($vmid, 1)): `status` is "running"
//   while the process exists, `qmpstatus` its QMP state, `lock` from the config.

export interface LiveStatus {
  /** "running" while the guest's process exists in any QMP state (paused, postmigrate, ...), else "stopped". */
  status: "running" | "stopped";
  qmpstatus?: string;
  lock?: string;
}

const statusCurrent = z.object({
  status: z.string(),
  qmpstatus: z.string().optional(),
  lock: z.string().optional(),
});

/** The guest's live status on `node`; undefined when its config is not on that node (500 "does not exist"). */
export async function getLiveStatus(
  client: ProxmoxClient,
  guest: { vmid: number; node: string; type?: GuestType },
): Promise<LiveStatus | undefined> {
  const path = `/nodes/${encodeURIComponent(guest.node)}/${guest.type ?? "qemu"}/${guest.vmid}/status/current`;
  let data: unknown;
  try {
    data = await client.request("GET", path);
  } catch (err) {
    if (err instanceof ProxmoxApiError && err.status === 500 && /does not exist/.test(err.message))
      return undefined;
    throw err;
  }
  const r = statusCurrent.safeParse(data);
  if (!r.success)
    throw new PeerError(`Proxmox API GET ${path}: unexpected answer (${r.error.issues[0]?.message})`);
  // A QMP state other than "running" still means a process: present.
  const qmp = r.data.qmpstatus && r.data.qmpstatus !== "running" ? r.data.qmpstatus : undefined;
  return {
    status: presence(r.data.status) === "running" ? "running" : "stopped",
    ...(qmp && r.data.status === "running" ? { qmpstatus: qmp } : {}),
    ...(r.data.lock ? { lock: r.data.lock } : {}),
  };
}

/**
 * Which node's directory in the pmxcfs tree holds the guest's config now.
 * undefined: no such file (the guest is gone) or no pmxcfs tree at `pveRoot`
 * (tell them apart with `hasPmxcfsTree`).
 */
export async function configNode(
  pveRoot: string,
  vmid: number,
): Promise<{ node: string; type: GuestType } | undefined> {
  let nodes: string[];
  try {
    nodes = await readdir(join(pveRoot, "nodes"));
  } catch {
    return undefined;
  }
  for (const node of nodes) {
    for (const [dir, type] of [
      ["qemu-server", "qemu"],
      ["lxc", "lxc"],
    ] as const) {
      try {
        await access(join(pveRoot, "nodes", node, dir, `${vmid}.conf`));
        return { node, type };
      } catch {}
    }
  }
  return undefined;
}

/** Whether `pveRoot` looks like pmxcfs (has `nodes/`): only then does a missing config file mean anything. */
export async function hasPmxcfsTree(pveRoot: string): Promise<boolean> {
  return access(join(pveRoot, "nodes")).then(
    () => true,
    () => false,
  );
}

/**
 * The snapshot with the given guests' status and lock replaced by their live
 * values. A guest whose node cannot answer (down) keeps what the snapshot says,
 * and `warn` is told.
 */
export async function withLiveStatus(
  client: ProxmoxClient,
  snapshot: ClusterSnapshot,
  vmids: readonly number[],
  warn: (line: string) => void,
): Promise<ClusterSnapshot> {
  if (vmids.length === 0) return snapshot;
  const online = new Set(snapshot.nodes.filter((n) => n.online).map((n) => n.name));
  const vms = await Promise.all(
    snapshot.vms.map(async (vm) => {
      if (!vmids.includes(vm.vmid) || !online.has(vm.node)) return vm;
      try {
        const live = await getLiveStatus(client, vm);
        // Moved between the two requests: the snapshot's node is stale, the next look sees it.
        if (!live) return vm;
        const { qmpstatus: _q, lock: _l, ...rest } = vm;
        return {
          ...rest,
          status: live.status,
          ...(live.qmpstatus ? { qmpstatus: live.qmpstatus } : {}),
          ...(live.lock ? { lock: live.lock } : {}),
        };
      } catch (err) {
        warn(
          `VM ${vm.vmid}: live status from ${vm.node} unavailable (${messageOf(err)}); using /cluster/resources`,
        );
        return vm;
      }
    }),
  );
  return { ...snapshot, vms };
}
