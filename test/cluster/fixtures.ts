import type { SimInterface } from "../../lib/sim/state.ts";

// A realistic agent answer: loopback, docker0, the VM network NIC with a
// link-local IPv6 and a global IPv6, and a WireGuard tunnel.
export const AGENT_ANSWER: SimInterface[] = [
  {
    name: "lo",
    "hardware-address": "00:00:00:00:00:00",
    "ip-addresses": [
      { "ip-address": "127.0.0.1", "ip-address-type": "ipv4", prefix: 8 },
      { "ip-address": "::1", "ip-address-type": "ipv6", prefix: 128 },
    ],
  },
  {
    name: "docker0",
    "hardware-address": "02:42:ac:11:00:01",
    "ip-addresses": [{ "ip-address": "172.17.0.1", "ip-address-type": "ipv4", prefix: 16 }],
  },
  {
    name: "ens18",
    "hardware-address": "bc:24:11:aa:bb:cc",
    "ip-addresses": [
      { "ip-address": "fe80::be24:11ff:feaa:bbcc%ens18", "ip-address-type": "ipv6", prefix: 64 },
      { "ip-address": "169.254.10.7", "ip-address-type": "ipv4", prefix: 16 },
      { "ip-address": "2001:db8::101", "ip-address-type": "ipv6", prefix: 64 },
      { "ip-address": "10.10.1.101", "ip-address-type": "ipv4", prefix: 16 },
    ],
  },
  { name: "wg0", "ip-addresses": [{ "ip-address": "192.168.77.2", "ip-address-type": "ipv4", prefix: 24 }] },
];
