import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config/load.ts";
import type { Config } from "../../lib/config/types.ts";
import { computeDesired, type VmPlacement } from "../../lib/desired/compute.ts";
import type { PlannedMove } from "../../lib/desired/ttl.ts";
import { baseDoc, type Fixture, makeFixture } from "../config/fixture.ts";

// computeDesired keeps each node's taken keys and each VM's moves and
// departures in maps built once per call (linear in guests): what first come
// first served and per-VM TTLs mean must not drift from the per-guest rescans
// they replace.

let fx: Fixture;
let config: Config;
beforeAll(async () => {
  fx = makeFixture();
  const doc = baseDoc();
  doc.nodes.pve3 = { publicIPv4: "192.0.2.30", privateIP: "10.10.0.3", publicInterface: "eno1" };
  // One public port for three VMs that never share a node in the file; running together they collide.
  doc.vms[201] = { ip: "10.10.2.1", dns: ["a.example.org"], forward: ["tcp/3000:22"], nodes: ["pve1"] };
  doc.vms[202] = { ip: "10.10.2.2", dns: ["b.example.org"], forward: ["tcp/3000:22"], nodes: ["pve2"] };
  doc.vms[203] = { ip: "10.10.2.3", dns: ["c.example.org"], forward: ["tcp/3000:22"], nodes: ["pve3"] };
  doc.dns.ttl = 300;
  ({ config } = await loadConfig(fx.write(doc)));
});
afterAll(() => fx.cleanup());

const NOW = 1_800_000_000_000;
const running = (vmid: number, node: string, ip: string): VmPlacement => ({
  vmid,
  node,
  status: "running",
  ip,
});

describe("computeDesired over many VMs", () => {
  it("the lowest vmid keeps a contested port on a node; every later claimant is reported against it", () => {
    const d = computeDesired(
      config,
      [
        running(203, "pve1", "10.10.2.3"),
        running(202, "pve1", "10.10.2.2"),
        running(201, "pve1", "10.10.2.1"),
      ],
      [],
      NOW,
    );
    expect(d.nodes.pve1?.forwards.filter((f) => f.publicPort === 3000).map((f) => f.vmid)).toEqual([201]);
    expect(d.conflicts).toEqual([
      { node: "pve1", key: "tcp/3000", kept: 201, dropped: 202 },
      { node: "pve1", key: "tcp/3000", kept: 201, dropped: 203 },
    ]);
  });

  it("a key taken on one node stays free on another, and a grace entry there loses to its later host", () => {
    const d = computeDesired(
      config,
      [running(201, "pve1", "10.10.2.1"), running(202, "pve2", "10.10.2.2")],
      // 203 left pve2 and runs nowhere now: its grace forward comes after pve2's own VM.
      [{ vmid: 203, node: "pve2", ip: "10.10.2.3", leftAt: NOW - 1000 }],
      NOW,
    );
    expect(d.nodes.pve1?.forwards.map((f) => [f.vmid, f.publicPort])).toContainEqual([201, 3000]);
    expect(d.nodes.pve2?.forwards.map((f) => [f.vmid, f.publicPort])).toContainEqual([202, 3000]);
    expect(d.conflicts).toEqual([{ node: "pve2", key: "tcp/3000", kept: 202, dropped: 203 }]);
  });

  it("each VM's names get the TTL of its own planned move, not another VM's", () => {
    const move = (vmid: number, moveTtl: number): PlannedMove => ({
      vmid,
      from: "pve2",
      to: "pve1",
      oldTtl: 300,
      moveTtl,
      loweredAt: NOW - 1000,
      expiresAt: NOW + 60_000,
    });
    const d = computeDesired(
      config,
      [
        running(201, "pve1", "10.10.2.1"),
        running(202, "pve2", "10.10.2.2"),
        running(203, "pve3", "10.10.2.3"),
      ],
      [],
      NOW,
      [move(202, 20), move(201, 10), move(202, 15)],
    );
    expect(d.dns.filter((r) => r.vmid > 200).map((r) => [r.name, r.ttl])).toEqual([
      ["a.example.org", 10],
      ["b.example.org", 15],
      ["c.example.org", 300],
    ]);
  });
});
