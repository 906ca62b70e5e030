import type { SimInterface } from "../../lib/sim/state.ts";

// What a guest agent reports (network-get-interfaces) for a VM with one
// interface, eth0: the tests that make a guest claim addresses set this on
// the sim. IPv4 with the VM network's /16, IPv6 with a /64.

export const eth0 = (...addresses: string[]): SimInterface[] => [
  {
    name: "eth0",
    "ip-addresses": addresses.map((a) =>
      a.includes(":")
        ? { "ip-address": a, "ip-address-type": "ipv6" as const, prefix: 64 }
        : { "ip-address": a, "ip-address-type": "ipv4" as const, prefix: 16 },
    ),
  },
];
