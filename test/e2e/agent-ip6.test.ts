import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { computeDesired } from "../../lib/desired/compute.ts";
import { convergeNode } from "../../lib/orchestrate/converge.ts";
import { observe } from "../../lib/orchestrate/observe.ts";
import { switchVm } from "../../lib/orchestrate/switch.ts";
import { eth0 as eth0With } from "../support/agent.ts";
import { missing } from "../support/requirements.ts";
import { type Harness, startHarness } from "./harness.ts";

// `ip6: agent`: the VM's IPv6 comes from the guest agent (the first address
// inside vmNetwork6, link-local skipped), and like the IPv4 it is untrusted:
// a node's public IPv6 or another VM's ip6 is refused. The AAAA does not
// depend on discovery (no flapping while the agent is slow).

/** VM 103's eth0: its IPv4 and these IPv6 addresses. */
const eth0 = (...ip6: string[]) => eth0With("10.10.1.103", ...ip6);

describe.skipIf(missing({ bins: ["named", "tsig-keygen"] }))("guest-reported IPv6", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      sim: {
        vms: [
          { vmid: 101, node: "pve1" },
          { vmid: 103, node: "pve1", agent: eth0("fe80::1", "2001:db8:99::3", "fd10:10:0:1:0:0:0:103") },
        ],
      },
      config: (doc) => {
        const nodes = doc.nodes as Record<string, Record<string, unknown>>;
        nodes.pve1!.publicIPv6 = "fd10:10::10";
        doc.vmNetwork6 = "fd10:10::/32";
        const vms = doc.vms as Record<string, Record<string, unknown>>;
        vms[101]!.ip6 = "fd10:10::101";
        vms[103] = { ip: "agent", ip6: "agent", dns: ["blog.example.org"], forward: ["tcp/2203:22"] };
      },
    });
  }, 60_000);
  afterAll(async () => h?.stop());

  const world = () => observe(h.runtime("pve1"), { resolveOn: ["pve1"] });

  it("forwards IPv6 to the agent's address inside vmNetwork6, canonical", async () => {
    const w = await world();
    expect(w.placements.find((p) => p.vmid === 103)?.ip6).toBe("fd10:10:0:1::103");
    const d = computeDesired(w.config, w.placements, [], Date.now());
    expect(d.nodes.pve1?.forwards.find((f) => f.vmid === 103)?.target6).toBe("fd10:10:0:1::103");
  });

  it("refuses a node's public IPv6 or another VM's ip6, and still publishes the AAAA", async () => {
    for (const claim of ["fd10:10::10", "fd10:10:0::101"]) {
      h.sim.setAgentInterfaces(103, eth0(claim));
      const w = await world();
      expect(w.placements.find((p) => p.vmid === 103)?.ip6).toBeUndefined();
      const d = computeDesired(w.config, w.placements, [], Date.now());
      expect(d.nodes.pve1?.forwards.find((f) => f.vmid === 103)?.target6).toBeUndefined();
      expect(d.dns.find((r) => r.vmid === 103)?.aaaa).toEqual(["fd10:10::10"]);
    }
  });

  it("a move records the discovered IPv6 in the departure: the old node grace-forwards IPv6 to it", async () => {
    h.sim.setAgentInterfaces(103, eth0("fd10:10:0:1:0:0:0:103"));
    expect((await switchVm(h.runtime("pve1"), 103)).local?.ok).toBe(true);
    h.sim.moveVm(103, "pve3");
    const departure = async () =>
      (await h.runtime("pve1").departures.list()).find((d) => d.vmid === 103 && d.node === "pve1");
    // The old node notices first (the new node's switch has not run): it records the departure itself.
    await convergeNode(h.runtime("pve1"), "pve1");
    expect(await departure()).toMatchObject({ ip: "10.10.1.103", ip6: "fd10:10:0:1::103" });
    // The new node's switch records it again (a fresh grace period), with the IPv6 too.
    const r = await switchVm(h.runtime("pve3"), 103, { from: "pve1" });
    expect(r.from).toBe("pve1");
    expect(await departure()).toMatchObject({ ip: "10.10.1.103", ip6: "fd10:10:0:1::103" });
    const w = await observe(h.runtime("pve1"));
    const grace = computeDesired(w.config, w.placements, w.departures, Date.now()).nodes.pve1?.forwards;
    expect(grace?.find((f) => f.vmid === 103)).toMatchObject({
      target: "10.10.1.103",
      target6: "fd10:10:0:1::103",
      graceUntil: expect.any(Number),
    });
  });
});
