import type { ClusterSnapshot } from "./types.ts";

// PURE: configured VMs that /cluster/resources does not list. Proxmox drops a
// guest from that list, without a word, when the token lacks VM.Audit on
// /vms/<id> (pve-manager PVE/API2/Cluster.pm, method `resources`:
// `next if !$rpcenv->check($authuser, "/vms/$vmid", ['VM.Audit'], 1)`). So a
// missing VM is "not visible", never "gone": its forwards, routes and names
// are left as they are, and a warning names the VM and the privilege.

/** The configured VM ids the snapshot does not contain, ascending. */
export function missingConfiguredVms(
  configured: Iterable<number | string>,
  snapshot: Pick<ClusterSnapshot, "vms">,
): number[] {
  const seen = new Set(snapshot.vms.map((vm) => vm.vmid));
  return [...new Set([...configured].map(Number))].filter((id) => !seen.has(id)).sort((a, b) => a - b);
}

/** The warning for a configured VM /cluster/resources does not list. */
export function missingVmWarning(vmid: number): string {
  return (
    `VM ${vmid} is configured but not in /cluster/resources: the API token needs VM.Audit on /vms/${vmid} ` +
    "to see it (or the VM was destroyed: remove it from the config); its forwards, routes and names are left as they are"
  );
}
