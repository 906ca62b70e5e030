import { dirname, resolve } from "node:path";
import { firstUsable } from "./addresses.ts";
import type { RawConfig, RawVm } from "./schema.ts";
import { type Config, type Problem, SYSTEM_CAS, type VmConfig } from "./types.ts";

// Turns the schema's output into the Config the rest of the code uses: node
// names and VM ids folded into the records, defaults that depend on other
// fields filled in.

/** dns.moveTtl unless set, or dns.ttl when that is already lower. */
const DEFAULT_MOVE_TTL = 30;

export function normalizeVm(vmid: string, raw: RawVm, allNodes: string[]): VmConfig {
  return {
    vmid: Number(vmid),
    ip: raw.ip,
    ...(raw.ip6 ? { ip6: raw.ip6 } : {}),
    dns: raw.dns,
    forward: raw.forward,
    sni: raw.sni,
    http: raw.http,
    nodes: raw.nodes ?? allNodes,
    ...(raw.notesAllowed !== undefined ? { notesAllowed: raw.notesAllowed } : {}),
    ...(raw.externalNames ? { externalNames: true } : {}),
  };
}

/**
 * File references (secrets, the CA, stateDir, pveRoot, the leases file, the
 * proxy's socket and map dir) are relative to the config file, so a config
 * and its files can travel together (the demo, tests) and a process started
 * in another directory (the hook, a worker, another node's CLI) finds the
 * same ones; absolute paths are kept.
 */
export function relativeToConfig(source: string, file: string): string {
  return resolve(dirname(source), file);
}

export function normalize(raw: RawConfig, source: string): Config {
  const nodeNames = Object.keys(raw.nodes).sort();
  const nodes: Config["nodes"] = {};
  for (const name of nodeNames) {
    const n = raw.nodes[name]!;
    nodes[name] = {
      name,
      publicIPv4: n.publicIPv4,
      ...(n.publicIPv6 ? { publicIPv6: n.publicIPv6 } : {}),
      privateIP: n.privateIP,
      publicInterface: n.publicInterface,
      sshHost: n.sshHost ?? n.privateIP,
      vmGateway: n.vmGateway ?? firstUsable(raw.vmNetwork),
    };
  }
  const vms: Config["vms"] = {};
  for (const vmid of Object.keys(raw.vms).sort((a, b) => Number(a) - Number(b))) {
    vms[vmid] = normalizeVm(vmid, raw.vms[vmid]!, nodeNames);
  }
  const rel = (file: string) => relativeToConfig(source, file);
  const caFile =
    raw.proxmox.caFile ?? (raw.proxmox.fingerprint ? undefined : `${raw.pveRoot}/pve-root-ca.pem`);
  return {
    source,
    proxmox: {
      ...raw.proxmox,
      tokenSecretFile: rel(raw.proxmox.tokenSecretFile),
      ...(caFile ? { caFile: caFile === SYSTEM_CAS ? caFile : rel(caFile) } : {}),
    },
    nodes,
    vmNetwork: raw.vmNetwork,
    ...(raw.vmNetwork6 ? { vmNetwork6: raw.vmNetwork6 } : {}),
    dns: {
      ...raw.dns,
      moveTtl: raw.dns.moveTtl ?? Math.min(DEFAULT_MOVE_TTL, raw.dns.ttl),
      tsig: { ...raw.dns.tsig, secretFile: rel(raw.dns.tsig.secretFile) },
    },
    nat: raw.nat,
    proxy: { ...raw.proxy, socket: rel(raw.proxy.socket), mapDir: rel(raw.proxy.mapDir) },
    graceSeconds: raw.graceSeconds,
    graceMaxSeconds: raw.graceMaxSeconds,
    remote: raw.remote,
    migrationWatchSeconds: raw.migrationWatchSeconds,
    safety: raw.safety,
    metrics: raw.metrics.textfile ? { textfile: rel(raw.metrics.textfile) } : {},
    reservedPorts: raw.reservedPorts,
    strict: raw.strict,
    stateDir: rel(raw.stateDir),
    pveRoot: rel(raw.pveRoot),
    dnsmasqLeases: rel(raw.dnsmasqLeases),
    notes: raw.notes,
    vms,
  };
}

/** Formats a schema path: ["vms", "101", "forward", 1] -> "vms.101.forward[1]". */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out || "(top level)";
}

export function formatProblem(p: Problem): string {
  return `${p.path}: ${p.message}`;
}
