import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config/load.ts";
import type { Config } from "../../lib/config/types.ts";
import { collisionsOnNode, computeDesired, type VmPlacement } from "../../lib/desired/compute.ts";
import { baseDoc, type Fixture, makeFixture } from "../config/fixture.ts";

let fx: Fixture;
let config: Config;
beforeAll(async () => {
  fx = makeFixture();
  const doc = baseDoc();
  doc.nodes.pve2.publicIPv6 = "2001:db8::20";
  doc.vms[103] = { ip: "agent", forward: ["tcp/2222:22"], nodes: ["pve2"] };
  doc.vms[101].nodes = ["pve1"];
  ({ config } = await loadConfig(fx.write(doc)));
});
afterAll(() => fx.cleanup());

const NOW = 1_800_000_000_000;
const running = (vmid: number, node: string, ip?: string): VmPlacement => ({
  vmid,
  node,
  status: "running",
  ...(ip ? { ip } : {}),
});

describe("computeDesired", () => {
  it("puts a running VM's forwards and routes on its node and its names on that node's IPs", () => {
    const d = computeDesired(
      config,
      [running(101, "pve1", "10.10.1.101"), running(102, "pve2", "10.10.1.102")],
      [],
      NOW,
    );
    expect(d.nodes.pve1?.forwards).toEqual([
      { vmid: 101, proto: "tcp", publicPort: 25, target: "10.10.1.101", targetPort: 25 },
      { vmid: 101, proto: "tcp", publicPort: 2222, target: "10.10.1.101", targetPort: 22 },
    ]);
    expect(d.nodes.pve1?.routes.map((r) => `${r.kind}:${r.name}->${r.target}:${r.targetPort}`)).toEqual([
      "http:webmail.example.org->10.10.1.101:80",
      "sni:webmail.example.org->10.10.1.101:443",
    ]);
    expect(d.nodes.pve2?.forwards).toEqual([
      { vmid: 102, proto: "udp", publicPort: 27015, target: "10.10.1.102", targetPort: 27015 },
    ]);
    expect(d.dns).toEqual([
      { vmid: 101, name: "mail.example.org", a: ["203.0.113.10"], aaaa: [], ttl: 60 },
      // pve2 has an IPv6, but VM 102 none: no AAAA that nothing would serve.
      { vmid: 102, name: "shop.example.org", a: ["198.51.100.20"], aaaa: [], ttl: 60 },
    ]);
  });

  it("gives a stopped VM nothing, and keeps its DNS unless deleteOnStop", () => {
    const stopped: VmPlacement = { vmid: 101, node: "pve1", status: "stopped", ip: "10.10.1.101" };
    const d = computeDesired(config, [stopped], [], NOW);
    expect(d.nodes.pve1?.forwards).toEqual([]);
    expect(d.dns).toEqual([]);
    expect(d.dnsWithdraw).toEqual([]);
    const withDelete = { ...config, dns: { ...config.dns, deleteOnStop: true } };
    expect(computeDesired(withDelete, [stopped], [], NOW).dnsWithdraw).toEqual([
      { vmid: 101, name: "mail.example.org" },
    ]);
  });

  it("grace-forwards a departed VM on its old node until the period ends (every server agreed at once, dns.ttl shorter)", () => {
    const placements = [running(101, "pve2", "10.10.1.101")];
    const leftAt = NOW - 30_000;
    const departed = [{ vmid: 101, node: "pve1", ip: "10.10.1.101", leftAt, agreedAt: leftAt }];
    const d = computeDesired(config, placements, departed, NOW);
    expect(d.nodes.pve1?.forwards.map((f) => [f.publicPort, f.graceUntil])).toEqual([
      [25, NOW + 90_000],
      [2222, NOW + 90_000],
    ]);
    expect(d.nodes.pve2?.forwards.every((f) => f.graceUntil === undefined)).toBe(true);
    expect(computeDesired(config, placements, departed, NOW + 90_000).nodes.pve1?.forwards).toEqual([]);
  });

  it("a VM hosted on a node beats a departed VM's grace entry for the same port", () => {
    const placements = [running(103, "pve2", "10.10.2.103"), running(101, "pve1", "10.10.1.101")];
    const departed = [{ vmid: 101, node: "pve2", ip: "10.10.1.101", leftAt: NOW }];
    const d = computeDesired(config, placements, departed, NOW);
    const port2222 = d.nodes.pve2?.forwards.filter((f) => f.publicPort === 2222);
    expect(port2222).toEqual([
      { vmid: 103, proto: "tcp", publicPort: 2222, target: "10.10.2.103", targetPort: 22 },
    ]);
    expect(d.conflicts).toEqual([{ node: "pve2", key: "tcp/2222", kept: 103, dropped: 101 }]);
  });

  it("a departure to a node the VM is back on is ignored", () => {
    const d = computeDesired(
      config,
      [running(101, "pve1", "10.10.1.101")],
      [{ vmid: 101, node: "pve1", ip: "10.10.1.101", leftAt: NOW }],
      NOW,
    );
    expect(d.nodes.pve1?.forwards.every((f) => f.graceUntil === undefined)).toBe(true);
  });

  it("reports a running VM whose IP is unknown and still moves its DNS", () => {
    const d = computeDesired(config, [running(103, "pve2")], [], NOW);
    expect(d.unresolved).toEqual([{ vmid: 103, reason: expect.stringContaining("private IP is unknown") }]);
    expect(d.nodes.pve2?.forwards).toEqual([]);
  });

  it("identical input gives an identical result whatever the input order", () => {
    const a = [running(102, "pve2", "10.10.1.102"), running(101, "pve1", "10.10.1.101")];
    expect(JSON.stringify(computeDesired(config, a, [], NOW))).toBe(
      JSON.stringify(computeDesired(config, [...a].reverse(), [], NOW)),
    );
  });
});

describe("collisionsOnNode", () => {
  it("names the VM that holds a port on the target", () => {
    const placements = [running(103, "pve2", "10.10.2.103")];
    expect(collisionsOnNode(config, 101, "pve2", placements)).toEqual(["tcp/2222 is held by VM 103 on pve2"]);
    expect(collisionsOnNode(config, 101, "pve1", placements)).toEqual([]);
  });
});
