import type { VmPlacement } from "../desired/compute.ts";
import type { LastApplied } from "../state/last-applied.ts";

// PURE: which VMs running on `self` reconcile must switch here: those whose
// last switch was to another node, or that were never switched (an offline
// migration, an HA recovery, a missed hook). Sorted, so runs are repeatable.

export function vmsToSwitch(
  self: string,
  placements: readonly VmPlacement[],
  lastApplied: readonly Pick<LastApplied, "vmid" | "node">[],
): number[] {
  const lastNode = new Map(lastApplied.map((r) => [r.vmid, r.node]));
  return placements
    .filter((p) => p.node === self && p.status === "running" && lastNode.get(p.vmid) !== self)
    .map((p) => p.vmid)
    .sort((a, b) => a - b);
}
