import { hostname } from "node:os";

/** Proxmox node names are the short hostname; PVEMIGRATE_DNS_NODE overrides (tests, demo). */
export function localNodeName(env: NodeJS.ProcessEnv = process.env): string {
  return env.PVEMIGRATE_DNS_NODE || hostname().split(".")[0]!;
}
