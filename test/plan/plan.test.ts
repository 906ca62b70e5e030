import { describe, expect, it } from "vitest";
import type { VmConfig } from "../../lib/config/types.ts";
import type { DnsDesired, NodeDesired } from "../../lib/desired/types.ts";
import type { NameState } from "../../lib/dns/changes.ts";
import { holdUnresolved, type NodeSettings, planDns, planNode } from "../../lib/plan/index.ts";
import { describeChange, renderPlan } from "../../lib/plan/types.ts";

// Planning is pure: plain data in (desired, what was read, settings), plain data out.

const settings: NodeSettings = {
  nat: { backend: "nftables", table: "pvemigrate" },
  proxy: { backend: "haproxy", socket: "/nonexistent/admin.sock" },
};
const NOW = 1_800_000_000_000;

const desired: NodeDesired = {
  node: "pve2",
  publicInterface: "eno1",
  publicIPv4: "198.51.100.20",
  privateIP: "10.10.0.2",
  vmNetwork: "10.10.0.0/16",
  forwards: [{ vmid: 101, proto: "tcp", publicPort: 2222, target: "10.10.1.101", targetPort: 22 }],
  routes: [{ vmid: 101, kind: "sni", name: "webmail.example.org", target: "10.10.1.101", targetPort: 443 }],
};
const emptyNat = { table: "pvemigrate", exists: false, layout: [], forwards: [] };
const emptyMap = { path: "", fileText: null, runtime: null };
const emptyProxy = { backend: "haproxy" as const, maps: { sni: emptyMap, http: emptyMap } };

describe("planNode", () => {
  it("lists every change of a node, nat and proxy side by side", () => {
    const plan = planNode(desired, { nat: emptyNat, proxy: emptyProxy }, settings, NOW);
    expect(plan.node).toBe("pve2");
    expect(plan.changes).toContainEqual({
      op: "add",
      backend: "nat",
      node: "pve2",
      vmid: 101,
      key: "tcp/2222",
      after: "10.10.1.101:22 (vm 101)",
    });
    expect(
      plan.changes
        .map(describeChange)
        .some((c) => c.startsWith("proxy: + sni webmail.example.org -> 10.10.1.101:443")),
    ).toBe(true);
    expect(plan.nat.script).toContain("table ip pvemigrate");
  });

  it("identical input gives an identical, JSON-able plan", () => {
    const a = planNode(desired, { nat: emptyNat, proxy: emptyProxy }, settings, NOW);
    const b = planNode(
      structuredClone(desired),
      { nat: structuredClone(emptyNat), proxy: structuredClone(emptyProxy) },
      settings,
      NOW,
    );
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
  });
});

describe("planDns", () => {
  const want: DnsDesired[] = [
    { vmid: 101, name: "mail.example.org", a: ["198.51.100.20"], aaaa: [], ttl: 60 },
    { vmid: 102, name: "new.example.org", a: ["198.51.100.20"], aaaa: [], ttl: 60 },
    { vmid: 103, name: "legacy.example.org", a: ["198.51.100.20"], aaaa: [], ttl: 60 },
    { vmid: 104, name: "same.example.org", a: ["198.51.100.20"], aaaa: [], ttl: 60 },
  ];
  const owned = ["heritage=pvemigrate-dns,owner=pvemigrate-dns"];
  const current = new Map<string, NameState>([
    ["mail.example.org", { exists: true, a: ["203.0.113.10"], aaaa: [], txt: owned, owned: true }],
    ["legacy.example.org", { exists: true, a: ["192.0.2.7"], aaaa: [], txt: [], owned: false }],
    ["same.example.org", { exists: true, a: ["198.51.100.20"], aaaa: [], txt: owned, owned: true }],
  ]);

  it("updates owned names, creates missing ones, never touches foreign ones", () => {
    const plan = planDns(want, current);
    expect(plan.changes).toEqual([
      {
        op: "update",
        backend: "dns",
        vmid: 101,
        key: "mail.example.org",
        before: "203.0.113.10",
        after: "198.51.100.20",
      },
      { op: "add", backend: "dns", vmid: 102, key: "new.example.org", after: "198.51.100.20" },
    ]);
    expect(plan.warnings).toEqual(["legacy.example.org: exists without our ownership TXT; left alone"]);
    expect(renderPlan(plan)).toEqual([
      "~ mail.example.org -> 198.51.100.20 (was 203.0.113.10)",
      "+ new.example.org -> 198.51.100.20",
      "! legacy.example.org: exists without our ownership TXT; left alone",
    ]);
  });
});

describe("planDns with a TTL", () => {
  it("a name right but served with another TTL is an update that says so", () => {
    const owned = ["heritage=pvemigrate-dns,owner=pvemigrate-dns"];
    const served = { exists: true, a: ["198.51.100.20"], aaaa: [], txt: owned, owned: true, ttl: 60 };
    const want: DnsDesired[] = [
      { vmid: 101, name: "mail.example.org", a: ["198.51.100.20"], aaaa: [], ttl: 30 },
    ];
    const plan = planDns(want, new Map([["mail.example.org", served]]));
    expect(plan.changes).toEqual([
      {
        op: "update",
        backend: "dns",
        vmid: 101,
        key: "mail.example.org",
        before: "198.51.100.20",
        after: "198.51.100.20",
        note: "TTL 60 -> 30",
      },
    ]);
    expect(renderPlan(plan)).toEqual([
      "~ mail.example.org -> 198.51.100.20 (was 198.51.100.20) (TTL 60 -> 30)",
    ]);
    expect(planDns([{ ...want[0]!, ttl: 60 }], new Map([["mail.example.org", served]])).changes).toEqual([]);
  });
});

describe("holdUnresolved", () => {
  const vm102: VmConfig = {
    vmid: 102,
    ip: { kind: "agent" },
    dns: [],
    forward: [{ proto: "udp", publicPort: 27015, privatePort: 27015 }],
    sni: [{ name: "shop.example.org", port: 443 }],
    http: [],
    nodes: ["pve2"],
  };
  const current = {
    forwards: [
      { proto: "udp" as const, publicPort: 27015, target: "10.10.2.102", targetPort: 27015 },
      { proto: "tcp" as const, publicPort: 9999, target: "10.10.2.50", targetPort: 22 },
    ],
    routes: { sni: { "shop.example.org": "10.10.2.102:443" }, http: {} },
  };

  it("keeps what the node has for a VM whose IP is unknown, nothing else", () => {
    const held = holdUnresolved(desired, [vm102], current);
    expect(held.forwards).toContainEqual({
      vmid: 102,
      proto: "udp",
      publicPort: 27015,
      target: "10.10.2.102",
      targetPort: 27015,
    });
    expect(held.forwards.some((f) => f.publicPort === 9999)).toBe(false);
    expect(held.routes).toContainEqual({
      vmid: 102,
      kind: "sni",
      name: "shop.example.org",
      target: "10.10.2.102",
      targetPort: 443,
    });
    // A held entry is part of the node's desired table, never a removal.
    const plan = planNode(held, { nat: emptyNat, proxy: emptyProxy }, settings, NOW);
    expect(renderPlan(plan).some((c) => c.includes("udp/27015 -> 10.10.2.102:27015"))).toBe(true);
  });

  it("holds a VM's IPv6 forward with its IPv4 one, and never reads an IPv6 entry as IPv4", () => {
    const v6 = {
      family: 6 as const,
      proto: "udp" as const,
      publicPort: 27015,
      target: "fd10:10::102",
      targetPort: 27015,
    };
    // The IPv6 entry first: the IPv4 one is still the one held, with the IPv6 beside it.
    const held = holdUnresolved(desired, [vm102], { ...current, forwards: [v6, ...current.forwards] });
    expect(held.forwards).toContainEqual(
      expect.objectContaining({ publicPort: 27015, target: "10.10.2.102", target6: "fd10:10::102" }),
    );
    const onlyV6 = holdUnresolved(desired, [vm102], { ...current, forwards: [v6] });
    expect(onlyV6.forwards.some((f) => f.vmid === 102)).toBe(false);
  });

  it("never holds an entry the desired state gives to another VM", () => {
    const claimed = {
      ...desired,
      forwards: [
        { vmid: 103, proto: "udp" as const, publicPort: 27015, target: "10.10.2.103", targetPort: 27015 },
      ],
    };
    const held = holdUnresolved(claimed, [vm102], current);
    expect(held.forwards.filter((f) => f.publicPort === 27015)).toEqual(claimed.forwards);
  });
});
