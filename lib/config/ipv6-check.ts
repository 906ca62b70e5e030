import { canonicalIPv6, inCidr, parseCidr } from "../cluster/ip.ts";
import type { Config, Problem } from "./types.ts";

// Checks of the IPv6 fields that need more than one field: a VM's static ip6
// must sit in vmNetwork6 (when set), be nobody else's, and not be a node's
// public address; `ip6: agent` needs vmNetwork6 to know which address to pick.
// Addresses compare in canonical form (fd10::0101 and fd10::101 are one).

export function checkIPv6(config: Config, problems: Problem[]): void {
  const network = config.vmNetwork6 ? parseCidr(config.vmNetwork6) : undefined;
  const owners = new Map<string, string>();
  for (const node of Object.values(config.nodes)) {
    const pub = node.publicIPv6 && canonicalIPv6(node.publicIPv6);
    if (pub) owners.set(pub, `node ${node.name}'s publicIPv6`);
  }
  for (const vm of Object.values(config.vms)) {
    const path = `vms.${vm.vmid}.ip6`;
    if (vm.ip6?.kind === "agent" && !network) {
      problems.push({ path, message: "agent needs vmNetwork6 (the network the VM's IPv6 is picked from)" });
    }
    if (vm.ip6?.kind !== "static") continue;
    const address = canonicalIPv6(vm.ip6.address) ?? vm.ip6.address;
    if (network && !inCidr(address, network)) {
      problems.push({ path, message: `${vm.ip6.address} is outside vmNetwork6 ${config.vmNetwork6}` });
    }
    const other = owners.get(address);
    if (other) problems.push({ path, message: `${vm.ip6.address} is also ${other}` });
    else owners.set(address, `the ip6 of VM ${vm.vmid}`);
  }
}
