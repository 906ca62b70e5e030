import type { LoadedConfig } from "./load.ts";
import { portRangeText } from "./reserved.ts";
import type { Forward, IpSource, Route } from "./types.ts";
import { masterLabel } from "./values.ts";

// The normalized config as `config check` prints it: the same field names as
// the file, values written back in their file syntax, secrets as <redacted>
// next to the file they come from.

const forward = (f: Forward) =>
  f.privatePort === f.publicPort
    ? `${f.proto}/${f.publicPort}`
    : `${f.proto}/${f.publicPort}:${f.privatePort}`;
const route = (r: Route) => `${r.name}:${r.port}`;
const ip = (s: IpSource) => (s.kind === "static" ? s.address : s.kind);

export function printableConfig({ config, secrets }: LoadedConfig): Record<string, unknown> {
  return {
    source: config.source,
    proxmox: { ...config.proxmox, tokenSecret: secrets.token },
    nodes: config.nodes,
    vmNetwork: config.vmNetwork,
    dns: {
      ...config.dns,
      masters: config.dns.masters.map(masterLabel),
      tsig: { ...config.dns.tsig, secret: secrets.tsig },
    },
    nat: config.nat,
    proxy: config.proxy,
    graceSeconds: config.graceSeconds,
    graceMaxSeconds: config.graceMaxSeconds,
    remote: config.remote,
    migrationWatchSeconds: config.migrationWatchSeconds,
    safety: config.safety,
    reservedPorts: config.reservedPorts.map(portRangeText),
    strict: config.strict,
    stateDir: config.stateDir,
    pveRoot: config.pveRoot,
    dnsmasqLeases: config.dnsmasqLeases,
    notes: { ...config.notes, ports: config.notes.ports.map(portRangeText) },
    vms: Object.fromEntries(
      Object.entries(config.vms).map(([id, vm]) => [
        id,
        {
          ip: ip(vm.ip),
          dns: vm.dns,
          forward: vm.forward.map(forward),
          sni: vm.sni.map(route),
          http: vm.http.map(route),
          nodes: vm.nodes,
          ...(vm.notesAllowed !== undefined ? { notesAllowed: vm.notesAllowed } : {}),
          externalNames: vm.externalNames ?? false,
        },
      ]),
    ),
  };
}
