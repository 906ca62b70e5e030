import type { ProxmoxClient } from "./client.ts";
import { parseClusterStatus } from "./snapshot.ts";
import type { ClusterSnapshot, GuestType, MigrationSource } from "./types.ts";

// Where did a guest come from? In order of trust:
// 1. PVE_MIGRATED_FROM, which Proxmox sets for the target's pre-start hook;
// 2. the most recent finished, successful migration task for the guest on any
//    node (the task runs on the source node, so its node IS the source);
// 3. the node our own last applied state put the guest on.

export interface FindSourceOptions {
  env?: Record<string, string | undefined>;
  /** The node our last-applied record has for the guest. */
  lastApplied?: string;
  /** Saves the /cluster/status request and gives the guest type. */
  snapshot?: ClusterSnapshot;
  type?: GuestType;
  /** How many tasks to ask each node for. */
  limit?: number;
}

interface TaskItem {
  upid?: string;
  node?: string;
  type?: string;
  id?: string | number;
  starttime?: number;
  endtime?: number;
  status?: string;
}

function isSuccess(status: string | undefined): boolean {
  return status === "OK" || (status?.startsWith("WARNINGS") ?? false);
}

export async function findMigrationSource(
  client: ProxmoxClient,
  vmid: number,
  opts: FindSourceOptions = {},
): Promise<MigrationSource | undefined> {
  const fromEnv = opts.env?.PVE_MIGRATED_FROM?.trim();
  if (fromEnv) return { from: fromEnv, via: "env" };

  const nodes =
    opts.snapshot?.nodes ?? parseClusterStatus(await client.request("GET", "/cluster/status")).nodes;
  const type = opts.type ?? opts.snapshot?.vms.find((v) => v.vmid === vmid)?.type ?? "qemu";
  const typefilter = type === "lxc" ? "vzmigrate" : "qmigrate";
  const lists = await Promise.all(
    nodes
      .filter((n) => n.online)
      .map(async (n) => {
        try {
          const data = await client.request("GET", `/nodes/${encodeURIComponent(n.name)}/tasks`, {
            typefilter,
            vmid,
            source: "archive",
            limit: opts.limit ?? 5,
          });
          return Array.isArray(data)
            ? (data as TaskItem[]).map((t) => ({ ...t, node: t.node ?? n.name }))
            : [];
        } catch {
          // One node that cannot answer must not hide the others' tasks.
          return [];
        }
      }),
  );
  const best = lists
    .flat()
    .filter((t) => t.type === typefilter && String(t.id) === String(vmid) && t.endtime && isSuccess(t.status))
    // Task times have one-second resolution; on a tie the later start wins.
    .sort((a, b) => (b.endtime ?? 0) - (a.endtime ?? 0) || (b.starttime ?? 0) - (a.starttime ?? 0))[0];
  if (best?.node) return { from: best.node, via: "task", ...(best.upid ? { upid: best.upid } : {}) };

  if (opts.lastApplied) return { from: opts.lastApplied, via: "record" };
  return undefined;
}
