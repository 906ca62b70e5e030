import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../../lib/errors.ts";
import type { NatBackend } from "../../lib/nat/backend.ts";
import { renderPlan } from "../../lib/plan/types.ts";
import { probe, startServer, type World } from "../support/netns.ts";
import { missing } from "../support/requirements.ts";
import { converge, fromClient, nodeDesired, startNatWorld } from "./nat-world.ts";

// Real nft in real network namespaces: a client, node a and node b on one
// "internet" bridge, a private mesh between the nodes, VM vm1 behind node a.

const nat = { backend: "nftables" as const, table: "pvemigrate" };

async function tableHandle(world: World, ns: string): Promise<number> {
  const out = JSON.parse(await world.sh(ns, ["nft", "-j", "list", "table", "ip", "pvemigrate"]));
  return out.nftables.find((i: { table?: { handle: number } }) => i.table)?.table.handle;
}

describe.skipIf(missing({ root: true, bins: ["nft", "ip"] }))(
  "nftables backend in network namespaces",
  () => {
    let world: World;
    let natA: NatBackend;
    let natB: NatBackend;
    const vmIp = "10.10.1.101";
    const ssh = { vmid: 101, proto: "tcp" as const, publicPort: 2222, target: vmIp, targetPort: 22 };
    const wg = { vmid: 101, proto: "udp" as const, publicPort: 51820, target: vmIp, targetPort: 5353 };

    beforeAll(async () => {
      ({ world, natA, natB } = await startNatWorld({ vms: [{ name: "vm1", node: "a", ip: vmIp }] }, nat));
      // Someone else's table on node a: must survive every apply.
      await world.sh(world.nodes.a!.ns, ["nft", "-f", "-"], {
        input: "table inet admin {\n\tset keep { type ipv4_addr; elements = { 192.0.2.7 } }\n}\n",
      });
    });
    afterAll(async () => {
      await world?.destroy();
    });

    it("forwards TCP and UDP on node a's public IP to the VM, which sees the client's address", async () => {
      const a = world.nodes.a!;
      expect(await fromClient(world, a.publicIp, "x")).toMatchObject({ ok: false });
      const changes = await converge(natA, nodeDesired(world, "a", [ssh, wg]));
      expect(changes).toContain("+ tcp/2222 -> 10.10.1.101:22 (vm 101)");
      expect(changes).toContain("+ udp/51820 -> 10.10.1.101:5353 (vm 101)");

      const tcp = await fromClient(world, a.publicIp, "hello");
      expect(tcp).toEqual({ ok: true, data: `vm1 hello ${world.client.ip}` });
      const udp = await fromClient(world, a.publicIp, "ping", { kind: "udp" });
      expect(udp).toEqual({ ok: true, data: `vm1 ping ${world.client.ip}` });
    });

    it("masquerades the VM's outbound traffic behind node a's public IP", async () => {
      await startServer(world, world.client.ns, { kind: "tcp", port: 7000, label: "client" });
      const out = await probe(world, world.vms.vm1!.ns, {
        kind: "tcp",
        host: world.client.ip,
        port: 7000,
        payload: "out",
      });
      expect(out).toEqual({ ok: true, data: `client out ${world.nodes.a!.publicIp}` });
    });

    it("re-applying the same desired state changes nothing; the other table survives", async () => {
      const desired = nodeDesired(world, "a", [ssh, wg]);
      const before = await tableHandle(world, world.nodes.a!.ns);
      const plan = natA.plan(desired, await natA.read(), Date.now());
      expect(renderPlan(plan)).toEqual([]);
      expect(plan.script).toBeNull();
      await natA.apply(plan);
      expect(await tableHandle(world, world.nodes.a!.ns)).toBe(before);
      const admin = await world.sh(world.nodes.a!.ns, ["nft", "list", "table", "inet", "admin"]);
      expect(admin).toContain("192.0.2.7");
    });

    it("rejects hostile input before anything reaches nft", async () => {
      const ns = world.nodes.a!.ns;
      const before = await world.sh(ns, ["nft", "list", "ruleset"]);
      const hostile = [
        { ...nodeDesired(world, "a", [ssh]), publicInterface: 'pub0" ; flush ruleset ; "' },
        { ...nodeDesired(world, "a", [ssh]), publicInterface: "pub0\nflush ruleset" },
        nodeDesired(world, "a", [{ ...ssh, target: "10.10.1.101 ; flush ruleset" }]),
        nodeDesired(world, "a", [{ ...ssh, publicPort: 70000 }]),
        { ...nodeDesired(world, "a", [ssh]), vmNetwork: "10.10.0.0/16 oifname x" },
      ];
      for (const desired of hostile) {
        expect(() =>
          natA.plan(desired, { table: "pvemigrate", exists: true, layout: [], forwards: [] }, Date.now()),
        ).toThrow(InputError);
      }
      expect(await world.sh(ns, ["nft", "list", "ruleset"])).toBe(before);
    });

    it("grace: after the VM moves, node a forwards over the mesh until the grace period ends, then refuses", async () => {
      const a = world.nodes.a!;
      const b = world.nodes.b!;
      await world.moveVm("vm1", "b");
      await converge(natB, nodeDesired(world, "b", [ssh, wg]));
      const graceUntil = Date.now() + 4000;
      const changes = await converge(natA, nodeDesired(world, "a", [{ ...ssh, graceUntil }]));
      expect(changes.some((l) => l.startsWith("~ tcp/2222 -> 10.10.1.101:22 (vm 101) [grace"))).toBe(true);
      expect(changes).toContain("- udp/51820 -> 10.10.1.101:5353");

      // The new node forwards with the client's address kept.
      const viaB = await fromClient(world, b.publicIp, "b");
      expect(viaB).toEqual({ ok: true, data: `vm1 b ${world.client.ip}` });
      // The old node still answers, through the mesh, masqueraded so replies come back through it.
      const viaA = await fromClient(world, a.publicIp, "a");
      expect(viaA).toEqual({ ok: true, data: `vm1 a ${a.meshIp}` });

      // nft expires the element by itself (generous bound: the grace period is 4 s).
      let refused = false;
      for (let i = 0; i < 40 && !refused; i++) {
        const r = await fromClient(world, a.publicIp, "late");
        refused = !r.ok;
        if (!refused) await new Promise((res) => setTimeout(res, 500));
      }
      expect(refused).toBe(true);
      expect(Date.now()).toBeGreaterThanOrEqual(graceUntil - 1000);
      // The expired grace forward is gone from the desired state too: nothing to change.
      const plan = natA.plan(
        nodeDesired(world, "a", [{ ...ssh, graceUntil }]),
        await natA.read(),
        Date.now(),
      );
      expect(renderPlan(plan)).toEqual([]);
    });

    it("grace: the reconcile also ends it when a later run finds it over", async () => {
      const a = world.nodes.a!;
      const graceUntil = Date.now() + 600_000;
      await converge(natA, nodeDesired(world, "a", [{ ...ssh, graceUntil }]));
      expect((await fromClient(world, a.publicIp, "g")).ok).toBe(true);
      const later = graceUntil + 1;
      const plan = natA.plan(nodeDesired(world, "a", [{ ...ssh, graceUntil }]), await natA.read(), later);
      expect(renderPlan(plan)).toEqual(["- tcp/2222 -> 10.10.1.101:22 [grace, 0s left]"]);
      await natA.apply(plan);
      expect((await fromClient(world, a.publicIp, "g")).ok).toBe(false);
      expect(await world.sh(a.ns, ["nft", "list", "table", "inet", "admin"])).toContain("192.0.2.7");
    });
  },
);
