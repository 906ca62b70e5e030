import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatBackend } from "../../lib/nat/backend.ts";
import { renderPlan } from "../../lib/plan/types.ts";
import { type ProbeSpec, probe, type World } from "../support/netns.ts";
import { missing } from "../support/requirements.ts";
import { converge, nodeDesired, startNatWorld } from "./nat-world.ts";

// Real nft in network namespaces that carry IPv6 too: an IPv6 client reaches
// the VMs' TCP and UDP forwards through the node's public IPv6 (table ip6),
// and VMs reach each other by public address, on the same node (hairpin) and
// across nodes, for both families; the node itself too (output hook).
//
//   vm1 10.10.1.101 fd10:10:1::101, vm2 10.10.1.102 fd10:10:1::102 on node a
//   (VM network fd10:10::/32: the nodes' /64s are inside it)
//   vm3 10.10.2.103 fd10:10:2::103 on node b

const nat = { backend: "nftables" as const, table: "pvemigrate" };

const fwd = (vmid: number, proto: "tcp" | "udp", publicPort: number, vm: string, targetPort: number) => ({
  vmid,
  proto,
  publicPort,
  target: `10.10.${vm === "vm3" ? 2 : 1}.${vmid}`,
  target6: `fd10:10:${vm === "vm3" ? 2 : 1}::${vmid}`,
  targetPort,
});

describe.skipIf(missing({ root: true, bins: ["nft", "ip"] }))(
  "IPv6 forwards and hairpin in network namespaces",
  () => {
    let world: World;
    let natA: NatBackend;
    let natB: NatBackend;
    const onA = [
      fwd(101, "tcp", 2222, "vm1", 22),
      fwd(101, "udp", 51820, "vm1", 5353),
      fwd(102, "tcp", 2223, "vm2", 22),
    ];
    const onB = [fwd(103, "tcp", 2224, "vm3", 22)];

    beforeAll(async () => {
      ({ world, natA, natB } = await startNatWorld(
        {
          ipv6: true,
          vms: [
            { name: "vm1", node: "a", ip: "10.10.1.101", ip6: "fd10:10:1::101" },
            { name: "vm2", node: "a", ip: "10.10.1.102", ip6: "fd10:10:1::102" },
            { name: "vm3", node: "b", ip: "10.10.2.103", ip6: "fd10:10:2::103" },
          ],
        },
        nat,
      ));
      for (const [backend, node, forwards] of [
        [natA, "a", onA],
        [natB, "b", onB],
      ] as const) {
        await converge(backend, nodeDesired(world, node, [...forwards]));
      }
    });
    afterAll(async () => {
      await world?.destroy();
    });

    const tcp = (ns: string, host: string, port: number, payload: string) =>
      probe(world, ns, { kind: "tcp", host, port, payload, timeoutMs: 2000 } satisfies ProbeSpec);

    it("an IPv6 client reaches TCP and UDP forwards through the node's public IPv6, and the VM sees its address", async () => {
      const a = world.nodes.a!;
      const client6 = world.client.ip6!;
      expect(await tcp(world.client.ns, a.publicIp6!, 2222, "hello")).toEqual({
        ok: true,
        data: `vm1 hello ${client6}`,
      });
      const udp = await probe(world, world.client.ns, {
        kind: "udp",
        host: a.publicIp6!,
        port: 51820,
        payload: "ping",
        timeoutMs: 2000,
      });
      expect(udp).toEqual({ ok: true, data: `vm1 ping ${client6}` });
      // IPv4 is unchanged beside it.
      expect(await tcp(world.client.ns, a.publicIp, 2222, "v4")).toEqual({
        ok: true,
        data: `vm1 v4 ${world.client.ip}`,
      });
    });

    it("reads both tables back: re-applying the same desired state changes nothing", async () => {
      const plan = natA.plan(nodeDesired(world, "a", onA), await natA.read(), Date.now());
      expect(renderPlan(plan)).toEqual([]);
      expect(plan.script).toBeNull();
    });

    it("a VM reaches another VM on the same node by the node's public address (hairpin), both families", async () => {
      const a = world.nodes.a!;
      const vm1 = world.vms.vm1!.ns;
      // Masqueraded to the node's bridge address, so vm2's reply comes back through the node.
      expect(await tcp(vm1, a.publicIp, 2223, "hp")).toEqual({ ok: true, data: `vm2 hp ${a.vmGateway}` });
      expect(await tcp(vm1, a.publicIp6!, 2223, "hp6")).toEqual({
        ok: true,
        data: `vm2 hp6 ${a.vmGateway6}`,
      });
    });

    it("a VM reaches a VM on another node by that node's public address, both families", async () => {
      const a = world.nodes.a!;
      const b = world.nodes.b!;
      const vm1 = world.vms.vm1!.ns;
      expect(await tcp(vm1, b.publicIp, 2224, "x")).toEqual({ ok: true, data: `vm3 x ${a.publicIp}` });
      // The ULA leaves node a masqueraded behind its public IPv6 (vmNetwork6).
      expect(await tcp(vm1, b.publicIp6!, 2224, "x6")).toEqual({ ok: true, data: `vm3 x6 ${a.publicIp6}` });
    });

    it("the node itself reaches its own forwards by its public address (output hook), both families", async () => {
      const a = world.nodes.a!;
      expect(await tcp(a.ns, a.publicIp, 2222, "me")).toEqual({ ok: true, data: `vm1 me ${a.publicIp}` });
      expect(await tcp(a.ns, a.publicIp6!, 2222, "me6")).toEqual({
        ok: true,
        data: `vm1 me6 ${a.publicIp6}`,
      });
    });

    it("a node that loses its public IPv6 drops the ip6 table; IPv4 stays", async () => {
      const b = world.nodes.b!;
      const { publicIPv6: _, ...v4only } = nodeDesired(world, "b", onB);
      const plan = natB.plan(v4only, await natB.read(), Date.now());
      expect(renderPlan(plan)).toContain("- table ip6 pvemigrate (the node has no publicIPv6)");
      await natB.apply(plan);
      expect((await tcp(world.client.ns, b.publicIp6!, 2224, "gone")).ok).toBe(false);
      expect((await tcp(world.client.ns, b.publicIp, 2224, "still")).ok).toBe(true);
      expect((await world.exec(b.ns, ["nft", "list", "table", "ip6", "pvemigrate"])).code).not.toBe(0);
    });
  },
);
