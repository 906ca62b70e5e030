import { portRangeText } from "./reserved.ts";
import type { RawNotesBlock } from "./schema.ts";
import type { Config, Problem } from "./types.ts";

// PURE: what a VM's Notes block may ask for. Notes are written by whoever
// holds VM.Config.Options on the VM (qemu-server API2/Qemu.pm
// `$check_vm_modify_config_perm`: `description` is one of `$generaloptions`),
// usually the VM's tenant, while this tool runs as root and signs with the
// zone's key. So Notes count only when the file turns them on, and then only
// for names under the policy's suffixes and ports in its ranges, within its
// limits. The caller takes a block whole or not at all.

/** Keys only the config file may set, and why a Notes block may not. */
export const FILE_ONLY_KEYS: Readonly<Record<string, string>> = {
  ip: "a Notes block cannot choose the VM's address: it comes from the config file or from discovery (notes.ip)",
  // The public IPv6 is DNATed to ip6: a tenant must not aim it at another VM or a node.
  ip6: "only the config file may set a VM's ip6",
  nodes: "only the config file restricts the nodes a VM runs on",
  notesAllowed: "only the config file turns a VM's Notes on or off",
  externalNames: "only the config file allows names outside dns.zone",
};

const where = (vmid: string) => `vms.${vmid} (Notes)`;

/** Why the file does not let this VM's Notes count, or undefined when it does. */
export function notesOffReason(config: Config, vmid: string): string | undefined {
  const fileSays = config.vms[vmid]?.notesAllowed;
  if (fileSays === true || (fileSays === undefined && config.notes.enabled)) return undefined;
  return fileSays === false
    ? `Notes are off for this VM (vms.${vmid}.notesAllowed: false); its Notes block is ignored`
    : "Notes are off (notes.enabled is false in the config file); the VM's Notes block is ignored";
}

/** Keys of the raw block only the config file may set, each reported. */
export function checkFileOnlyKeys(vmid: string, raw: Record<string, unknown>): Problem[] {
  return Object.entries(FILE_ONLY_KEYS)
    .filter(([key]) => Object.hasOwn(raw, key))
    .map(([key, why]) => ({ path: `${where(vmid)}.${key}`, message: why }));
}

/** The per-VM limits, counted on the raw YAML: a 400-entry block costs a count, not 400 parses. */
export function checkNotesLimits(config: Config, vmid: string, raw: Record<string, unknown>): Problem[] {
  const problems: Problem[] = [];
  const count = (key: string) => {
    const v = raw[key];
    return Array.isArray(v) ? v.length : 0;
  };
  const names = count("dns") + count("sni") + count("http");
  const { maxNames, maxForwards } = config.notes;
  if (names > maxNames) {
    problems.push({
      path: where(vmid),
      message: `claims ${names} names (dns + sni + http), more than notes.maxNames ${maxNames}`,
    });
  }
  if (count("forward") > maxForwards) {
    problems.push({
      path: `${where(vmid)}.forward`,
      message: `claims ${count("forward")} forwards, more than notes.maxForwards ${maxForwards}`,
    });
  }
  return problems;
}

/** Why `name` may not come from Notes, or undefined when the policy allows it. */
function nameRefusal(config: Config, name: string): string | undefined {
  const { dnsSuffixes } = config.notes;
  for (const node of Object.keys(config.nodes)) {
    if (name === `${node}.${config.dns.zone}`) return `${name} is node ${node}'s host name`;
  }
  if (dnsSuffixes.some((suffix) => name.endsWith(`.${suffix}`))) return undefined;
  if (dnsSuffixes.length === 0) return `${name}: notes.dnsSuffixes is empty, so Notes may claim no name`;
  return `${name} is not a subdomain of notes.dnsSuffixes (${dnsSuffixes.join(", ")})`;
}

/** Every entry of a parsed block outside the policy's names and ports. */
export function checkNotesPolicy(config: Config, vmid: string, block: RawNotesBlock): Problem[] {
  const problems: Problem[] = [];
  const names: Array<[string, string, number]> = [
    ...block.dns.map((n, i): [string, string, number] => ["dns", n, i]),
    ...block.sni.map((r, i): [string, string, number] => ["sni", r.name, i]),
    ...block.http.map((r, i): [string, string, number] => ["http", r.name, i]),
  ];
  for (const [kind, name, i] of names) {
    const why = nameRefusal(config, name);
    if (why) problems.push({ path: `${where(vmid)}.${kind}[${i}]`, message: why });
  }
  const { ports } = config.notes;
  block.forward.forEach((f, i) => {
    if (ports.some((r) => r.proto === f.proto && r.from <= f.publicPort && f.publicPort <= r.to)) return;
    const label = `${f.proto}/${f.publicPort}`;
    problems.push({
      path: `${where(vmid)}.forward[${i}]`,
      message:
        ports.length === 0
          ? `${label}: notes.ports is empty, so Notes may forward no port`
          : `${label} is not in notes.ports (${ports.map(portRangeText).join(", ")})`,
    });
  });
  return problems;
}
