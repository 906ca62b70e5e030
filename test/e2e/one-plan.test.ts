import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Change } from "../../lib/plan/types.ts";
import { dig } from "../support/named.ts";
import { missing } from "../support/requirements.ts";
import { type NetnsCluster, startNetnsCluster } from "./netns-world.ts";

// One plan (issue 17's "done when"): `plan --json`, `reconcile --dry-run
// --json` and what `reconcile` then applies are the same change objects, for
// the node (real nft and HAProxy in network namespaces) and for DNS (real
// BIND), because every path plans once through the same pure functions and
// the write path sends the DNS plan's writes as they are.

interface NodePlanJson {
  node: string;
  changes: Change[];
}

describe.skipIf(
  missing({ root: true, bins: ["named", "dig", "tsig-keygen", "nft", "haproxy", "ip", "openssl"] }),
)("one plan: plan, reconcile --dry-run and reconcile", () => {
  let c: NetnsCluster;
  beforeAll(async () => {
    c = await startNetnsCluster();
    for (const node of ["pve1", "pve2"] as const) {
      const r = await c.cli(node, ["reconcile", "--json"]);
      expect(r.code, r.stderr).toBe(0);
    }
  }, 90_000);
  afterAll(async () => c?.stop(), 60_000);

  it("shows and applies the same change objects for nft, HAProxy and DNS", async () => {
    // The file gives VM 101 another forward, another SNI route and another name.
    const configFile = c.h.writeConfigVariant("more", (doc) => {
      const vm = (doc.vms as Record<string, { forward: string[]; sni: string[]; dns: string[] }>)["101"]!;
      vm.forward.push("tcp/2525:25");
      vm.sni.push("extra.example.org");
      vm.dns.push("extra.example.org");
    });
    const cli = async (args: string[]) => {
      const r = await c.cli("pve1", [...args, "--json"], { configFile });
      return { code: r.code, stderr: r.stderr, json: JSON.parse(r.stdout).data };
    };

    const plan = await cli(["plan"]);
    expect(plan.code, plan.stderr).toBe(4);
    const nodes = plan.json.nodes as NodePlanJson[];
    expect(nodes.find((n) => n.node === "pve2")?.changes).toEqual([]);
    const nodeChanges = nodes.find((n) => n.node === "pve1")?.changes;
    const dnsChanges = plan.json.dns.changes as Change[];
    expect(nodeChanges).toEqual([
      expect.objectContaining({ op: "add", backend: "nat", node: "pve1", vmid: 101, key: "tcp/2525" }),
      expect.objectContaining({ op: "add", backend: "proxy", node: "pve1", key: "sni extra.example.org" }),
    ]);
    expect(dnsChanges).toEqual([
      { op: "add", backend: "dns", vmid: 101, key: "extra.example.org", after: c.publicIp("pve1") },
    ]);

    const dry = await cli(["reconcile", "--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json.local.plan).toEqual(nodeChanges);
    expect(dry.json.dns.plan).toEqual(dnsChanges);
    // The dry run changed nothing.
    expect(await c.nftTable("pve1")).not.toContain("2525");
    expect(await dig(c.h.primary.port, "extra.example.org", "A")).toEqual([]);

    const applied = await cli(["reconcile"]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.json.local).toMatchObject({ plan: nodeChanges, applied: true });
    expect(applied.json.dns.plan).toEqual(dnsChanges);
    expect(applied.json.dns.outcomes).toEqual([
      expect.objectContaining({ name: "extra.example.org", status: "updated", a: [c.publicIp("pve1")] }),
      expect.objectContaining({ name: "mail.example.org", status: "unchanged" }),
    ]);
    // ... and it is really there.
    expect(await c.nftTable("pve1")).toContain("2525");
    expect(await c.sniMap("pve1")).toContain("extra.example.org");
    expect(await dig(c.h.primary.port, "extra.example.org", "A")).toEqual([c.publicIp("pve1")]);
    const after = await cli(["plan"]);
    expect(after.code, JSON.stringify(after.json)).toBe(0);
  }, 120_000);
});
