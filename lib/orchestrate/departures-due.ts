import type { Departure, VmPlacement } from "../desired/compute.ts";
import type { LastApplied } from "../state/last-applied.ts";

// PURE: which departures from `node` nobody recorded yet. A VM last switched
// to `node` runs on another node now, and the new node's switch has not run
// (its hook's worker is still busy, the migration was offline, the new
// node's timer comes later). Its names still point at `node`, so `node` must
// grace-forward to it, not drop it. converge.ts records what this returns.

export function unrecordedDepartures(
  node: string,
  placements: readonly VmPlacement[],
  lastApplied: readonly LastApplied[],
  recorded: readonly Departure[],
  now: number,
): Departure[] {
  const lastByVmid = new Map(lastApplied.map((r) => [r.vmid, r]));
  const due: Departure[] = [];
  for (const p of placements) {
    if (p.node === node || p.status !== "running") continue;
    const last = lastByVmid.get(p.vmid);
    const ip = last?.privateIPs[0];
    if (last?.node !== node || !ip) continue;
    // Recorded since the VM was last switched here: the grace period already runs.
    const since = Date.parse(last.appliedAt);
    if (recorded.some((d) => d.vmid === p.vmid && d.node === node && d.leftAt >= since)) continue;
    // The IPv6 it forwarded to as well (a discovered ip6: agent too), so grace covers IPv6.
    const ip6 = last.privateIPv6;
    due.push({ vmid: p.vmid, node, ip, ...(ip6 ? { ip6 } : {}), leftAt: now });
  }
  return due;
}
