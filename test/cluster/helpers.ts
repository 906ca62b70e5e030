import { createProxmoxClient, type ProxmoxClient } from "../../lib/cluster/client.ts";
import { Secret } from "../../lib/config/secret.ts";
import type { ProxmoxConfig } from "../../lib/config/types.ts";
import { SIM_TOKEN_ID, SIM_TOKEN_SECRET } from "../../lib/sim/cluster.ts";

export function proxmoxConfig(endpoints: string[], extra: Partial<ProxmoxConfig> = {}): ProxmoxConfig {
  return {
    endpoints,
    tokenId: SIM_TOKEN_ID,
    tokenSecretFile: "/tmp/pvemigrate-test.token",
    connectTimeoutMs: 1000,
    requestTimeoutMs: 3000,
    ...extra,
  };
}

export function simClient(
  endpoints: string[],
  extra: Partial<ProxmoxConfig> = {},
  secret = SIM_TOKEN_SECRET,
): ProxmoxClient {
  return createProxmoxClient({
    proxmox: proxmoxConfig(endpoints, extra),
    tokenSecret: new Secret(secret, "/tmp/pvemigrate-test.token"),
  });
}
