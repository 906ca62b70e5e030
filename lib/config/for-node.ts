import type { Config } from "./types.ts";

// Node-local paths may name the node ("{node}"), so several simulated nodes
// can share one machine (tests, demo) while production uses fixed paths.

export function forNode(config: Config, node: string): Config {
  const sub = (s: string) => s.replaceAll("{node}", node);
  return {
    ...config,
    stateDir: sub(config.stateDir),
    dnsmasqLeases: sub(config.dnsmasqLeases),
    metrics: config.metrics.textfile ? { textfile: sub(config.metrics.textfile) } : {},
    proxy: { ...config.proxy, socket: sub(config.proxy.socket), mapDir: sub(config.proxy.mapDir) },
    // A per-node certificate (ACME) names its node: "{node}.example.org".
    ...(config.proxmox.serverName
      ? { proxmox: { ...config.proxmox, serverName: sub(config.proxmox.serverName) } }
      : {}),
  };
}
