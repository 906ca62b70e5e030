import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firstUsable, forbiddenVmAddresses } from "../../lib/config/addresses.ts";
import { loadConfig } from "../../lib/config/load.ts";
import type { Config } from "../../lib/config/types.ts";
import { baseDoc, type Fixture, makeFixture } from "./fixture.ts";

let fx: Fixture;
let config: Config;
beforeAll(async () => {
  fx = makeFixture();
  ({ config } = await loadConfig(fx.write(baseDoc())));
});
afterAll(() => fx.cleanup());

describe("forbiddenVmAddresses", () => {
  it("lists node private IPs, the VM network's ends and VMs' static ips, each with why", () => {
    expect(forbiddenVmAddresses(config)).toEqual(
      new Map([
        ["10.10.0.1", "node pve1's privateIP"],
        ["10.10.0.2", "node pve2's privateIP"],
        ["10.10.0.0", "the network address of vmNetwork 10.10.0.0/16"],
        ["10.10.255.255", "the broadcast address of vmNetwork 10.10.0.0/16"],
        ["10.10.1.101", "VM 101's static ip"],
        ["10.10.1.102", "VM 102's static ip"],
      ]),
    );
  });

  it("computes the ends of a network written with host bits, and skips VMs found at run time", () => {
    const agentOnly = {
      ...config,
      vmNetwork: "172.16.77.9/20",
      vms: { 101: { ...config.vms["101"]!, ip: { kind: "agent" as const } } },
    };
    const forbidden = forbiddenVmAddresses(agentOnly);
    expect(forbidden.get("172.16.64.0")).toBe("the network address of vmNetwork 172.16.77.9/20");
    expect(forbidden.get("172.16.79.255")).toBe("the broadcast address of vmNetwork 172.16.77.9/20");
    expect([...forbidden.values()].some((why) => why.includes("static"))).toBe(false);
  });

  it("lists every node's VM bridge address (vmGateway), where services meant only for VMs listen", () => {
    const nodes = {
      pve1: { ...config.nodes.pve1!, vmGateway: "10.10.1.1" },
      pve2: { ...config.nodes.pve2!, vmGateway: "10.10.2.1" },
    };
    const forbidden = forbiddenVmAddresses({ ...config, nodes });
    expect(forbidden.get("10.10.1.1")).toBe("node pve1's VM bridge address (vmGateway)");
    expect(forbidden.get("10.10.2.1")).toBe("node pve2's VM bridge address (vmGateway)");
  });

  it("a node's vmGateway defaults to the first usable address of vmNetwork", () => {
    expect(firstUsable("10.10.0.0/16")).toBe("10.10.0.1");
    expect(firstUsable("172.16.77.9/20")).toBe("172.16.64.1");
    expect(config.nodes.pve2?.vmGateway).toBe("10.10.0.1");
  });

  it("a /31 or /32 VM network has no network or broadcast address", () => {
    const forbidden = forbiddenVmAddresses({ ...config, vmNetwork: "10.10.0.0/31", vms: {} });
    expect([...forbidden.keys()]).toEqual(["10.10.0.1", "10.10.0.2"]);
  });
});
