import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NodeDesired, NodeForward, PeerRoute } from "../../lib/desired/types.ts";
import { createNatBackend, type NatBackend } from "../../lib/nat/backend.ts";
import { ROUTING_BASE } from "../../lib/nat/policy.ts";
import { renderPlan } from "../../lib/plan/types.ts";
import { netnsExec } from "../../lib/process/run.ts";
import type { World } from "../support/netns.ts";
import { missing } from "../support/requirements.ts";
import { converge, fromClient, nodeDesired, startNatWorld } from "./nat-world.ts";

// nat.graceMode policy-routing with real nft and real policy routing: vm1
// moved from node a to node b. Node a grace-forwards to it over the mesh
// WITHOUT masquerading, node b marks those connections (they come from the
// mesh, from a client's address, to a VM that arrived from a) and routes the
// VM's replies back over the mesh to a, whose conntrack entry rewrites them.
// So the VM sees the real client address and the connection works; after
// grace it is refused. IPv6 grace masquerades (its route cannot take the
// mesh's IPv4 next hop).

const nat = { backend: "nftables" as const, table: "pvemigrate", graceMode: "policy-routing" as const };

describe.skipIf(missing({ root: true, bins: ["nft", "ip"] }))(
  "grace forwarding that keeps the client's address (policy routing)",
  () => {
    let world: World;
    let natA: NatBackend;
    let natB: NatBackend;
    const vmIp = "10.10.1.101";
    const vmIp6 = "fd10:10:1::101";
    const ssh: NodeForward = { vmid: 101, proto: "tcp", publicPort: 2222, target: vmIp, targetPort: 22 };
    const wg: NodeForward = { vmid: 101, proto: "udp", publicPort: 51820, target: vmIp, targetPort: 5353 };

    function desiredFor(node: "a" | "b", forwards: NodeForward[], arrivals: NodeDesired["arrivals"] = []) {
      const other = node === "a" ? world.nodes.b! : world.nodes.a!;
      const peers: PeerRoute[] = [{ node: other.name, index: node === "a" ? 2 : 1, privateIP: other.meshIp }];
      return nodeDesired(world, node, forwards, { peers, arrivals });
    }

    const client = (host: string, kind: "tcp" | "udp" = "tcp") =>
      fromClient(world, host, "hi", { kind, timeoutMs: 2000 });

    beforeAll(async () => {
      ({ world, natA, natB } = await startNatWorld(
        { ipv6: true, vms: [{ name: "vm1", node: "a", ip: vmIp, ip6: vmIp6 }] },
        nat,
      ));
    });
    afterAll(async () => {
      await world?.destroy();
    });

    it("during grace the VM sees the real client address through the old node, TCP and UDP; IPv6 grace masquerades", async () => {
      const a = world.nodes.a!;
      const b = world.nodes.b!;
      await world.moveVm("vm1", "b");
      const live = [
        { ...ssh, target6: vmIp6 },
        { ...wg, target6: vmIp6 },
      ];
      const changesB = await converge(natB, desiredFor("b", live, [{ vmid: 101, from: "a", ip: vmIp }]));
      expect(changesB).toContain(
        `+ ip rule fwmark 0x01000000/0xff000000 lookup ${ROUTING_BASE + 1} (grace replies for a via ${a.meshIp})`,
      );
      const graceUntil = Date.now() + 5000;
      const grace = live.map((f) => ({ ...f, graceUntil, keepClient: true }));
      await converge(natA, desiredFor("a", grace));

      // Through the new node, as always; and through the old node with the client's own address.
      expect(await client(b.publicIp)).toEqual({ ok: true, data: `vm1 hi ${world.client.ip}` });
      expect(await client(a.publicIp)).toEqual({ ok: true, data: `vm1 hi ${world.client.ip}` });
      expect(await client(a.publicIp, "udp")).toEqual({ ok: true, data: `vm1 hi ${world.client.ip}` });
      // IPv6: masqueraded toward the mesh (the VM sees node a's mesh address), and it works.
      expect(await client(a.publicIp6!)).toEqual({ ok: true, data: `vm1 hi ${a.meshIp6}` });

      // Both nodes read everything back as applied: no changes.
      for (const [backend, d] of [
        [natA, desiredFor("a", grace)],
        [natB, desiredFor("b", live, [{ vmid: 101, from: "a", ip: vmIp }])],
      ] as const) {
        expect(renderPlan(backend.plan(d, await backend.read(), Date.now()))).toEqual([]);
      }

      // After grace, the old node refuses (nft expires the elements by itself).
      let refused = false;
      for (let i = 0; i < 40 && !refused; i++) {
        refused = !(await client(a.publicIp)).ok;
        if (!refused) await new Promise((r) => setTimeout(r, 500));
      }
      expect(refused).toBe(true);
      expect(Date.now()).toBeGreaterThanOrEqual(graceUntil - 1000);
      expect((await client(a.publicIp6!)).ok).toBe(false);
      expect((await client(b.publicIp)).ok).toBe(true);
    });

    it("without the new node's marks the same grace connection fails: the routing is what makes it work", async () => {
      const a = world.nodes.a!;
      const live = [{ ...ssh, target6: vmIp6 }];
      // Node b forgets the arrival (its from_1 set is emptied); node a still keeps the client.
      await converge(natB, desiredFor("b", live, []));
      await converge(natA, desiredFor("a", [{ ...ssh, graceUntil: Date.now() + 60_000, keepClient: true }]));
      expect((await client(a.publicIp)).ok).toBe(false);
      // Back in snat mode (no keepClient), the old node masquerades and it works again.
      await converge(natA, desiredFor("a", [{ ...ssh, graceUntil: Date.now() + 60_000 }]));
      expect(await client(a.publicIp)).toEqual({ ok: true, data: `vm1 hi ${a.meshIp}` });
    });

    it("leaving policy-routing mode removes its ip rules and routing tables", async () => {
      const b = world.nodes.b!;
      const snat = createNatBackend({
        nat: { ...nat, graceMode: "snat" },
        exec: netnsExec(b.ns),
      });
      const { peers: _p, arrivals: _a, ...plain } = desiredFor("b", [ssh]);
      const changes = await converge(snat, plain);
      expect(changes).toContain(`- ip rule priority ${ROUTING_BASE + 1} (lookup ${ROUTING_BASE + 1})`);
      const rules = await world.sh(b.ns, ["ip", "rule", "show"]);
      expect(rules).not.toContain(String(ROUTING_BASE + 1));
      expect(await world.sh(b.ns, ["ip", "route", "show", "table", String(ROUTING_BASE + 1)])).toBe("");
      expect(renderPlan(snat.plan(plain, await snat.read(), Date.now()))).toEqual([]);
    });
  },
);
