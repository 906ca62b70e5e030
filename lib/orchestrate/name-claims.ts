import type { ClusterSnapshot } from "../cluster/index.ts";
import type { Config } from "../config/types.ts";
import type { Claim } from "../dns/changes.ts";
import type { ClaimRecord } from "../dns/claims.ts";

// PURE: who claims which name in the merged config (file + Notes), and which
// registered names are due for withdrawal because their VM no longer claims
// them. A name is withdrawn only when its absence is known: a VM that is
// merely stopped still claims its names (they are in the config); a VM the
// API does not show us (gone, or hidden from the token: pve-manager
// PVE/API2/Cluster.pm `resources` skips every guest without VM.Audit,
// silently) or whose Notes could not be read (offline node, API error) might
// still claim it in Notes we did not see, so its names stay.

/** Where `vmid`'s claim on `name` comes from: its Notes block, else the file. */
export function claimOf(config: Pick<Config, "vms">, vmid: number, name: string): Claim {
  const vm = config.vms[String(vmid)];
  return { vmid, origin: vm?.notesClaims?.includes(name) ? "notes" : "file" };
}

/** Every claimed name with its one claimant (the config check allows one VM per name). */
export function claimsOf(config: Pick<Config, "vms">): Map<string, Claim> {
  const claims = new Map<string, Claim>();
  for (const vm of Object.values(config.vms)) {
    for (const name of vm.dns) if (!claims.has(name)) claims.set(name, claimOf(config, vm.vmid, name));
  }
  return claims;
}

/**
 * Guests whose claims we know in full this time: visible, on an online node,
 * and either not tagged (no Notes apply) or tagged with their Notes read.
 */
export function claimsKnown(
  snapshot: Pick<ClusterSnapshot, "nodes" | "vms">,
  notesRead: ReadonlySet<number>,
  notesTag: string,
): Set<number> {
  const online = new Set(snapshot.nodes.filter((n) => n.online).map((n) => n.name));
  return new Set(
    snapshot.vms
      .filter((vm) => online.has(vm.node) && (!vm.tags.includes(notesTag) || notesRead.has(vm.vmid)))
      .map((vm) => vm.vmid),
  );
}

export interface Withdrawal {
  name: string;
  vmid: number;
}

/** Registered names whose VM no longer claims them, where that is known (see the header). */
export function withdrawalsDue(
  registry: ReadonlyMap<string, ClaimRecord>,
  claims: ReadonlyMap<string, Claim>,
  known: ReadonlySet<number>,
): Withdrawal[] {
  const due: Withdrawal[] = [];
  for (const [name, record] of registry) {
    if (record.withdrawnAt !== undefined) continue;
    if (claims.get(name)?.vmid === record.vmid) continue;
    if (!known.has(record.vmid)) continue;
    due.push({ name, vmid: record.vmid });
  }
  return due.sort((x, y) => x.name.localeCompare(y.name));
}
