import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { observe } from "../../lib/orchestrate/observe.ts";
import { eth0 } from "../support/agent.ts";
import { missing } from "../support/requirements.ts";
import { type Harness, startHarness } from "./harness.ts";

// Addresses a guest reports (agent, leases) come from inside the VM: a guest
// must not be able to point its public forwards at a node's own address or at
// another VM.

describe.skipIf(missing({ bins: ["named", "tsig-keygen"] }))("guest-reported addresses", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      sim: {
        vms: [
          { vmid: 101, node: "pve1" },
          { vmid: 103, node: "pve1", agent: eth0("10.10.1.103") },
          { vmid: 104, node: "pve1", agent: eth0("10.10.1.103") },
        ],
      },
      config: (doc) => {
        const vms = doc.vms as Record<string, unknown>;
        vms[103] = { ip: "agent", forward: ["tcp/2203:22"] };
        vms[104] = { ip: "agent", forward: ["tcp/2204:22"] };
        // The mesh inside the VM network, as in DESIGN's example: a guest could claim a node's address.
        (doc.nodes as Record<string, { privateIP: string }>).pve1!.privateIP = "10.10.0.1";
      },
    });
  }, 60_000);
  afterAll(async () => h?.stop());

  const ipOf = async (vmid: number) =>
    (await observe(h.runtime("pve1"), { resolveOn: ["pve1"] })).placements.find((p) => p.vmid === vmid)?.ip;

  it("takes a plain address from the agent, but not one another guest already claimed", async () => {
    expect(await ipOf(103)).toBe("10.10.1.103");
    expect(await ipOf(104)).toBeUndefined();
  });

  it("refuses a node's private IP or another VM's static IP", async () => {
    h.sim.setAgentInterfaces(104, eth0("10.10.0.1"));
    expect(await ipOf(104)).toBeUndefined();
    h.sim.setAgentInterfaces(104, eth0("10.10.1.101"));
    expect(await ipOf(104)).toBeUndefined();
    h.sim.setAgentInterfaces(104, eth0("10.10.1.104"));
    expect(await ipOf(104)).toBe("10.10.1.104");
  });
});
