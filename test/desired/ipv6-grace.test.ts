import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config/load.ts";
import type { Config } from "../../lib/config/types.ts";
import { computeDesired, type VmPlacement } from "../../lib/desired/compute.ts";
import { baseDoc, type Fixture, makeFixture } from "../config/fixture.ts";

// The desired state of IPv6 (AAAA only for a VM with an ip6 on a node with a
// public IPv6; IPv6 forwards to the ip6) and of client-keeping grace
// (nat.graceMode policy-routing): which old node skips the masquerade, and
// which new node routes the replies back to it.

let fx: Fixture;
let config: Config;
let policy: Config;
beforeAll(async () => {
  fx = makeFixture();
  const doc = baseDoc();
  doc.nodes.pve1.publicIPv6 = "2001:db8::10";
  doc.nodes.pve2.publicIPv6 = "2001:db8::20";
  doc.vmNetwork6 = "fd10:10::/48";
  doc.vms[101].ip6 = "fd10:10:0::0101";
  doc.vms[103] = { ip: "10.10.2.103", ip6: "agent", dns: ["blog.example.org"], forward: ["tcp/2223:22"] };
  ({ config } = await loadConfig(fx.write(doc)));
  doc.nat = { graceMode: "policy-routing" };
  doc.nodes.pve3 = { publicIPv4: "192.0.2.30", privateIP: "10.10.0.3", publicInterface: "eno1" };
  ({ config: policy } = await loadConfig(fx.write(doc, "policy.yaml")));
});
afterAll(() => fx.cleanup());

const NOW = 1_800_000_000_000;
const running = (vmid: number, node: string, ip: string, ip6?: string): VmPlacement => ({
  vmid,
  node,
  status: "running",
  ip,
  ...(ip6 ? { ip6 } : {}),
});

describe("IPv6 in the desired state", () => {
  it("publishes an AAAA only for a VM with an ip6, on a node with a public IPv6", () => {
    const d = computeDesired(
      config,
      [running(101, "pve2", "10.10.1.101"), running(102, "pve2", "10.10.1.102")],
      [],
      NOW,
    );
    expect(d.dns.map((r) => [r.name, r.aaaa])).toEqual([
      ["mail.example.org", ["2001:db8::20"]],
      ["shop.example.org", []],
    ]);
  });

  it("forwards to the static ip6 (canonical) and to a discovered one", () => {
    const d = computeDesired(
      config,
      [running(101, "pve1", "10.10.1.101"), running(103, "pve2", "10.10.2.103", "fd10:10::103")],
      [],
      NOW,
    );
    expect(d.nodes.pve1?.forwards.map((f) => f.target6)).toEqual(["fd10:10::101", "fd10:10::101"]);
    expect(d.nodes.pve1?.publicIPv6).toBe("2001:db8::10");
    expect(d.nodes.pve1?.vmNetwork6).toBe("fd10:10::/48");
    expect(d.nodes.pve2?.forwards).toEqual([
      expect.objectContaining({ publicPort: 2223, target: "10.10.2.103", target6: "fd10:10::103" }),
    ]);
  });

  it("grace-forwards IPv6 too, to the departure's ip6 or else the static one", () => {
    const departed = [
      { vmid: 101, node: "pve1", ip: "10.10.1.101", leftAt: NOW - 1000 },
      { vmid: 103, node: "pve1", ip: "10.10.2.103", ip6: "fd10:10::103", leftAt: NOW - 1000 },
    ];
    const d = computeDesired(
      config,
      [running(101, "pve2", "10.10.1.101"), running(103, "pve2", "10.10.2.103")],
      departed,
      NOW,
    );
    expect(d.nodes.pve1?.forwards.map((f) => [f.publicPort, f.target6, f.graceUntil !== undefined])).toEqual([
      [25, "fd10:10::101", true],
      [2222, "fd10:10::101", true],
      [2223, "fd10:10::103", true],
    ]);
  });
});

describe("nat.graceMode", () => {
  const moved = [running(101, "pve2", "10.10.1.101")];

  it("snat (default): grace forwards masquerade, no peers, no arrivals", () => {
    const d = computeDesired(
      config,
      moved,
      [{ vmid: 101, node: "pve1", ip: "10.10.1.101", leftAt: NOW }],
      NOW,
    );
    expect(d.nodes.pve1?.forwards.some((f) => f.keepClient)).toBe(false);
    expect(d.nodes.pve2?.peers).toBeUndefined();
    expect(d.nodes.pve2?.arrivals).toBeUndefined();
  });

  it("policy-routing: the old node keeps the client's address and the new node routes replies back to it", () => {
    const d = computeDesired(
      policy,
      moved,
      [{ vmid: 101, node: "pve1", ip: "10.10.1.101", leftAt: NOW }],
      NOW,
    );
    expect(d.nodes.pve1?.forwards.every((f) => f.keepClient === true && f.graceUntil)).toBe(true);
    expect(d.nodes.pve2?.arrivals).toEqual([{ vmid: 101, from: "pve1", ip: "10.10.1.101" }]);
    // Peer numbers are positions in the sorted node list: the same on every node.
    expect(d.nodes.pve2?.peers?.[0]).toEqual({ node: "pve1", index: 1, privateIP: "10.10.0.1" });
    expect(d.nodes.pve1?.peers).toEqual([
      { node: "pve2", index: 2, privateIP: "10.10.0.2" },
      { node: "pve3", index: 3, privateIP: "10.10.0.3" },
    ]);
  });

  it("policy-routing: a VM that moved twice within grace keeps the client only through its last old node", () => {
    const d = computeDesired(
      policy,
      [running(101, "pve3", "10.10.1.101")],
      [
        { vmid: 101, node: "pve1", ip: "10.10.1.101", leftAt: NOW - 5000 },
        { vmid: 101, node: "pve2", ip: "10.10.1.101", leftAt: NOW - 1000 },
      ],
      NOW,
    );
    expect(d.nodes.pve1?.forwards.some((f) => f.keepClient)).toBe(false);
    expect(d.nodes.pve2?.forwards.every((f) => f.keepClient)).toBe(true);
    expect(d.nodes.pve3?.arrivals).toEqual([{ vmid: 101, from: "pve2", ip: "10.10.1.101" }]);
  });

  it("policy-routing: masquerades grace toward a VM that runs nowhere (no node would route replies)", () => {
    const d = computeDesired(policy, [], [{ vmid: 101, node: "pve1", ip: "10.10.1.101", leftAt: NOW }], NOW);
    expect(d.nodes.pve1?.forwards.length).toBeGreaterThan(0);
    expect(d.nodes.pve1?.forwards.some((f) => f.keepClient)).toBe(false);
  });
});
