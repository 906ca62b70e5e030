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
    if (key === "vms" && isPlainObject(value)) {
      const vms = vmTexts(key, value);
      // A non-empty map is written in block style: `vms:` on a line of its own, then the VMs.
      if (vms.length > 0) {
        parts.push(`${key}:\n`, ...vms);
        continue;
      }
    }
    // Any other field, or a map of no VM JSON keeps (`vms: {}`), is written whole.
    const field = plain({ [key]: value }) as Record<string, unknown>;
    // JSON (and so the whole text) leaves out an undefined or function field; on its own it would print `{}`.
    if (Object.hasOwn(field, key)) parts.push(stringify(field));
  }
  // Nothing to write is `{}`, as for the whole object.
  return parts.length > 0 ? parts.join("") : stringify({});
}

/** A map of JSON's own kind (not an array, a Date, a class instance with its own toJSON). */
const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" &&
  value !== null &&
  !Array.isArray(value) &&
  [Object.prototype, null].includes(Object.getPrototypeOf(value)) &&
  !("toJSON" in value);

/** Each VM's lines as they sit under `key:` in the whole text; none for a VM JSON leaves out. */
function vmTexts(key: string, vms: Record<string, unknown>): string[] {
  const head = `${key}:\n`;
  const texts: string[] = [];
  for (const [id, vm] of Object.entries(vms)) {
    const one = plain({ [id]: vm }) as Record<string, unknown>;
    if (Object.hasOwn(one, id)) texts.push(stringify({ [key]: one }).slice(head.length));
  }
  return texts;
}
