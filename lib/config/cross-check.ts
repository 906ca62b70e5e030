import { reservedVmNetworkAddresses } from "./addresses.ts";
import { checkIPv6 } from "./ipv6-check.ts";
import { reservedEntry, reservedLabel } from "./reserved.ts";
import type { Config, Forward, Problem, VmConfig } from "./types.ts";
import { inZone, ipv4InCidr } from "./values.ts";

// Checks that need more than one field: things each field alone cannot know
// is wrong. Pure: takes the normalized config, returns every problem found.

function shareNode(a: VmConfig, b: VmConfig): boolean {
  return a.nodes.some((n) => b.nodes.includes(n));
}

function checkNodes(config: Config, problems: Problem[]): void {
  const known = Object.keys(config.nodes);
  const byPublicIp = new Map<string, string>();
  for (const node of Object.values(config.nodes)) {
    const other = byPublicIp.get(node.publicIPv4);
    if (other) {
      problems.push({
        path: `nodes.${node.name}.publicIPv4`,
        message: `${node.publicIPv4} is also the public IP of node ${other}`,
      });
    }
    byPublicIp.set(node.publicIPv4, node.name);
  }
  for (const n of Object.keys(config.remote.netns)) {
    if (!known.includes(n)) problems.push({ path: `remote.netns.${n}`, message: `unknown node "${n}"` });
  }
  for (const vm of Object.values(config.vms)) {
    vm.nodes.forEach((n, i) => {
      if (!known.includes(n)) {
        problems.push({
          path: `vms.${vm.vmid}.nodes[${i}]`,
          message: `unknown node "${n}" (known: ${known.join(", ") || "none"})`,
        });
      }
    });
  }
}

function checkAddresses(config: Config, problems: Problem[]): void {
  const byIp = new Map<string, number>();
  const reserved = reservedVmNetworkAddresses(config);
  for (const vm of Object.values(config.vms)) {
    if (vm.ip.kind !== "static") continue;
    const why = reserved.get(vm.ip.address);
    if (why) problems.push({ path: `vms.${vm.vmid}.ip`, message: `${vm.ip.address} is ${why}` });
    if (!ipv4InCidr(vm.ip.address, config.vmNetwork)) {
      problems.push({
        path: `vms.${vm.vmid}.ip`,
        message: `${vm.ip.address} is outside vmNetwork ${config.vmNetwork}`,
      });
    }
    const other = byIp.get(vm.ip.address);
    if (other !== undefined) {
      problems.push({ path: `vms.${vm.vmid}.ip`, message: `${vm.ip.address} is also the IP of VM ${other}` });
    }
    byIp.set(vm.ip.address, vm.vmid);
  }
}

const portKey = (f: Pick<Forward, "proto" | "publicPort">) => `${f.proto}/${f.publicPort}`;

/** A free public port for the same VM port, for the message: tcp/22 -> 2222. */
function suggestPublicPort(
  config: Config,
  f: Forward,
  proxyPorts: number[],
  claimed: ReadonlySet<string>,
): number {
  let port = f.publicPort < 1000 ? 2200 + f.publicPort : f.publicPort + 10_000;
  if (port > 65535) port = 20_000;
  const taken = (p: number) =>
    reservedEntry(config.reservedPorts, f.proto, p) !== undefined ||
    (f.proto === "tcp" && proxyPorts.includes(p)) ||
    claimed.has(portKey({ proto: f.proto, publicPort: p }));
  while (taken(port) && port < 65535) port++;
  return port;
}

/**
 * A public port is per node, and a VM may run on any of its nodes: two VMs
 * that may share a node must not claim the same proto/port, or the second to
 * arrive would collide. The proxy's own ports and the node's own services
 * (reservedPorts) are taken too. Earlier claims are looked up by proto/port,
 * not by scanning every earlier VM: linear in forwards, whatever the guests.
 */
function checkPorts(config: Config, problems: Problem[]): void {
  const vms = Object.values(config.vms);
  const proxyPorts = config.proxy.backend === "none" ? [] : [config.proxy.httpsPort, config.proxy.httpPort];
  const claimed = new Set(vms.flatMap((vm) => vm.forward.map(portKey)));
  /** proto/port -> the earlier VMs claiming it, in file order, each with its first entry's index. */
  const earlier = new Map<string, Array<{ vm: VmConfig; index: number }>>();
  for (const vm of vms) {
    vm.forward.forEach((f, fi) => {
      const label = portKey(f);
      const reserved = reservedEntry(config.reservedPorts, f.proto, f.publicPort);
      if (reserved) {
        const alt = suggestPublicPort(config, f, proxyPorts, claimed);
        problems.push({
          path: `vms.${vm.vmid}.forward[${fi}]`,
          message: `${label} is reserved on every node (reservedPorts: ${reservedLabel(reserved, f.proto, f.publicPort)}); use e.g. ${f.proto}/${alt}:${f.privatePort}`,
        });
      }
      if (f.proto === "tcp" && proxyPorts.includes(f.publicPort)) {
        problems.push({
          path: `vms.${vm.vmid}.forward[${fi}]`,
          message: `${label} is the ${config.proxy.backend} port of every node: use sni/http routes for it`,
        });
      }
      // Earlier entries of the same VM, then earlier VMs: each clash reported once, at its later side.
      const dupe = vm.forward.findIndex(
        (g, gi) => gi < fi && g.proto === f.proto && g.publicPort === f.publicPort,
      );
      if (dupe !== -1) {
        problems.push({
          path: `vms.${vm.vmid}.forward[${fi}]`,
          message: `${label} is listed twice (also [${dupe}])`,
        });
      }
      for (const { vm: other, index: oi } of earlier.get(label) ?? []) {
        if (!shareNode(vm, other)) continue;
        problems.push({
          path: `vms.${vm.vmid}.forward[${fi}]`,
          message: `${label} is also claimed by VM ${other.vmid} (vms.${other.vmid}.forward[${oi}]); VMs ${other.vmid} and ${vm.vmid} would collide on a shared node`,
        });
      }
    });
    // Only now: a VM's own entries are "listed twice", never "also claimed".
    vm.forward.forEach((f, fi) => {
      const key = portKey(f);
      const list = earlier.get(key) ?? [];
      if (list.at(-1)?.vm !== vm) list.push({ vm, index: fi });
      earlier.set(key, list);
    });
  }
}

type NameKind = "dns" | "sni" | "http";

/** A name leads to one VM: the same name in two VMs (in any list) is ambiguous. */
function checkNames(config: Config, problems: Problem[]): void {
  const owner = new Map<string, { vmid: number; path: string }>();
  for (const vm of Object.values(config.vms)) {
    const seenHere = new Set<string>();
    const entries: Array<[NameKind, string, number]> = [
      ...vm.dns.map((n, i): [NameKind, string, number] => ["dns", n, i]),
      ...vm.sni.map((r, i): [NameKind, string, number] => ["sni", r.name, i]),
      ...vm.http.map((r, i): [NameKind, string, number] => ["http", r.name, i]),
    ];
    for (const [kind, name, i] of entries) {
      const path = `vms.${vm.vmid}.${kind}[${i}]`;
      // A route for a name outside the zone sends someone else's traffic (and
      // their ACME HTTP-01 challenges) to this VM: only when the file says so.
      if (!inZone(name, config.dns.zone) && (kind === "dns" || !vm.externalNames)) {
        const hint = kind === "dns" ? "" : ` (set externalNames: true on VM ${vm.vmid} to route it anyway)`;
        problems.push({ path, message: `${name} is outside dns.zone ${config.dns.zone}${hint}` });
      }
      const key = `${kind}:${name}`;
      if (seenHere.has(key)) problems.push({ path, message: `${name} is listed twice` });
      seenHere.add(key);
      const prev = owner.get(name);
      if (prev && prev.vmid !== vm.vmid) {
        problems.push({ path, message: `${name} is also claimed by VM ${prev.vmid} (${prev.path})` });
      } else if (!prev) {
        owner.set(name, { vmid: vm.vmid, path });
      }
    }
  }
}

/** The Notes policy may only hand out names of the zone this tool writes. */
function checkNotesSuffixes(config: Config, problems: Problem[]): void {
  config.notes.dnsSuffixes.forEach((suffix, i) => {
    if (!inZone(suffix, config.dns.zone)) {
      problems.push({
        path: `notes.dnsSuffixes[${i}]`,
        message: `${suffix} is outside dns.zone ${config.dns.zone}`,
      });
    }
  });
}

/** A node's VM bridge address is on the VM network. */
function checkGateways(config: Config, problems: Problem[]): void {
  for (const node of Object.values(config.nodes)) {
    if (!ipv4InCidr(node.vmGateway, config.vmNetwork)) {
      problems.push({
        path: `nodes.${node.name}.vmGateway`,
        message: `${node.vmGateway} is outside vmNetwork ${config.vmNetwork}`,
      });
    }
  }
}

/** One whole update gets at least one full attempt; a planned move lowers the TTL, never raises it. */
function checkDurations(config: Config, problems: Problem[]): void {
  const { timeoutMs, totalTimeoutMs } = config.dns;
  if (totalTimeoutMs < timeoutMs) {
    problems.push({
      path: "dns.totalTimeoutMs",
      message: `${totalTimeoutMs}ms is less than dns.timeoutMs (${timeoutMs}ms): not even one attempt would fit`,
    });
  }
  // A "lowered" TTL above the normal one would make a planned move slower for clients, not faster.
  const { ttl, moveTtl } = config.dns;
  if (moveTtl > ttl) {
    problems.push({ path: "dns.moveTtl", message: `${moveTtl} is more than dns.ttl (${ttl})` });
  }
}

export function crossCheck(config: Config): Problem[] {
  const problems: Problem[] = [];
  checkDurations(config, problems);
  checkNodes(config, problems);
  checkAddresses(config, problems);
  checkIPv6(config, problems);
  checkPorts(config, problems);
  checkNames(config, problems);
  checkNotesSuffixes(config, problems);
  checkGateways(config, problems);
  return problems;
}
