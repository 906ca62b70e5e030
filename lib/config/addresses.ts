import type { Config } from "./types.ts";

// Addresses that can never be a VM's private IP: a VM "at" one of them would
// get the node's own traffic (its private IP: corosync, ssh, grace forwards;
// its VM bridge address, where services meant only for the VMs listen) or
// another VM's forwards, or make no sense on the VM network at all. Used
// for static ips at config check and for addresses discovered at run time
// (guest agent, leases), which come from inside a VM and are not trusted.

const toInt = (ip: string) => ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
const toIp = (n: number) => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");

/** The network and broadcast addresses of an IPv4 CIDR; none for /31 and /32 (RFC 3021: every address usable). */
function networkEnds(cidr: string): { network: string; broadcast: string } | undefined {
  const [net = "", bits = "32"] = cidr.split("/");
  const prefix = Number(bits);
  if (prefix >= 31) return undefined;
  const size = 2 ** (32 - prefix);
  const network = Math.floor(toInt(net) / size) * size;
  return { network: toIp(network), broadcast: toIp(network + size - 1) };
}

/**
 * The first usable address of an IPv4 CIDR (10.10.0.0/16 -> 10.10.0.1): by
 * convention the gateway, the default for a node's vmGateway.
 */
export function firstUsable(cidr: string): string {
  const [net = "", bits = "32"] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  const network = Math.floor(toInt(net) / size) * size;
  return toIp(Number(bits) >= 31 ? network : network + 1);
}

/** Node private IPs and VM bridge addresses, the vmNetwork's network/broadcast address -> why (without VMs' own IPs). */
export function reservedVmNetworkAddresses(config: Pick<Config, "nodes" | "vmNetwork">): Map<string, string> {
  const out = new Map<string, string>();
  const add = (address: string, why: string) => {
    if (!out.has(address)) out.set(address, why);
  };
  for (const node of Object.values(config.nodes)) add(node.privateIP, `node ${node.name}'s privateIP`);
  for (const node of Object.values(config.nodes)) {
    add(node.vmGateway, `node ${node.name}'s VM bridge address (vmGateway)`);
  }
  const ends = networkEnds(config.vmNetwork);
  if (ends) {
    add(ends.network, `the network address of vmNetwork ${config.vmNetwork}`);
    add(ends.broadcast, `the broadcast address of vmNetwork ${config.vmNetwork}`);
  }
  return out;
}

/**
 * Every address no VM may claim unless it is its own static ip, and why:
 * node private IPs, the vmNetwork's network and broadcast addresses, and the
 * static ips of VMs ("VM 101's static ip": a discovered address equal to it
 * is another VM's, so the caller skips it only for VM 101 itself).
 */
export function forbiddenVmAddresses(config: Config): Map<string, string> {
  const out = reservedVmNetworkAddresses(config);
  for (const vm of Object.values(config.vms)) {
    if (vm.ip.kind === "static" && !out.has(vm.ip.address))
      out.set(vm.ip.address, `VM ${vm.vmid}'s static ip`);
  }
  return out;
}
