import { hostname } from "node:os";

// This node's Proxmox name, in one place: the lock holder records it, the hook
// and the runtime act as it, doctor checks against it.

/**
 * The short hostname, as Proxmox derives it (pve-common PVE/INotify.pm
 * nodename: uname's nodename with the domain part stripped);
 * PVEMIGRATE_DNS_NODE overrides it (tests, demo).
 */
export function localNodeName(env: NodeJS.ProcessEnv = process.env): string {
  return env.PVEMIGRATE_DNS_NODE || hostname().split(".")[0]!;
}
