import { stringify } from "yaml";
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

/** A value as JSON would carry it: no undefined fields, no shared references for YAML anchors to point at. */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

/**
 * printableConfig as YAML, the same text as `stringify` of the whole object,
 * made one top-level field and one VM at a time: stringify builds a node tree
 * of everything it writes, ~40 MiB at 10,000 guests (issue 16's memory floor).
 * A block mapping's text is its pairs' texts one after the other, and each VM
 * is written inside its own `vms:` line (then cut off), so its indentation and
 * line folding are those of the whole text.
 */
export function printableYaml(printable: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(printable)) {
    // JSON (and so the whole text) leaves such a field out; on its own it would print `{}`.
    if (value === undefined) continue;
    const entries = key === "vms" && value && typeof value === "object" ? Object.entries(value) : [];
    if (entries.length === 0) {
      parts.push(stringify(plain({ [key]: value })));
      continue;
    }
    // A non-empty map is written in block style: `vms:` on a line of its own, then the VMs.
    const head = `${key}:\n`;
    parts.push(head);
    for (const [id, vm] of entries) parts.push(stringify(plain({ [key]: { [id]: vm } })).slice(head.length));
  }
  // Nothing to write is `{}`, as for the whole object.
  return parts.length > 0 ? parts.join("") : stringify({});
}
