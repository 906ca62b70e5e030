import type { SimVmInput } from "../sim/cluster.ts";

// The demo's cluster: three nodes in different datacenters (documentation
// addresses), the example VMs of the design, and how the simulated Proxmox
// API holds them (VM 103's guest agent reports docker0 and link-local noise
// around its real address; VM 104 is HA-managed).

export const ZONE = "example.org";
export const NODES = {
  pve1: { publicIPv4: "203.0.113.10", privateIP: "10.10.0.1", publicInterface: "eno1" },
  pve2: { publicIPv4: "198.51.100.20", privateIP: "10.10.0.2", publicInterface: "enp3s0" },
  pve3: {
    publicIPv4: "192.0.2.30",
    privateIP: "10.10.0.3",
    publicInterface: "eno1",
    publicIPv6: "2001:db8:30::1",
  },
};
export const VMS = {
  101: {
    ip: "10.10.1.101",
    dns: ["mail.example.org"],
    forward: ["tcp/25", "tcp/587", "tcp/993", "tcp/2222:22"],
    sni: ["webmail.example.org"],
    http: ["webmail.example.org"],
  },
  102: {
    ip: "10.10.1.102",
    dns: ["shop.example.org"],
    sni: ["shop.example.org"],
    http: ["shop.example.org"],
  },
  103: { ip: "agent", dns: ["blog.example.org"], sni: ["blog.example.org:8443"], http: ["blog.example.org"] },
  104: {
    ip: "10.10.2.104",
    // IPv6 forwards where its node has a public IPv6 (pve3, after the HA recovery), and an AAAA there.
    ip6: "fd10:10:2::104",
    dns: ["play.example.org"],
    forward: ["udp/27015", "tcp/27015", "tcp/2224:22"],
  },
  105: { ip: "10.10.3.53", dns: ["ns1.example.org"], forward: ["udp/53", "tcp/53"] },
};
export const SIM_VMS: SimVmInput[] = [
  { vmid: 101, node: "pve1", name: "mail" },
  { vmid: 102, node: "pve1", name: "shop" },
  {
    vmid: 103,
    node: "pve2",
    name: "blog",
    agent: [
      { name: "lo", "ip-addresses": [{ "ip-address": "127.0.0.1", "ip-address-type": "ipv4", prefix: 8 }] },
      {
        name: "docker0",
        "ip-addresses": [{ "ip-address": "172.17.0.1", "ip-address-type": "ipv4", prefix: 16 }],
      },
      {
        name: "eth0",
        "ip-addresses": [
          { "ip-address": "fe80::be24:11ff:fe00:67", "ip-address-type": "ipv6", prefix: 64 },
          { "ip-address": "10.10.2.103", "ip-address-type": "ipv4", prefix: 16 },
        ],
      },
    ],
  },
  { vmid: 104, node: "pve2", name: "game", hastate: "started" },
  { vmid: 105, node: "pve3", name: "ns1" },
];
