import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { forbiddenVmAddresses } from "../../lib/config/addresses.ts";
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

  it("a /31 or /32 VM network has no network or broadcast address", () => {
    const forbidden = forbiddenVmAddresses({ ...config, vmNetwork: "10.10.0.0/31", vms: {} });
    expect([...forbidden.keys()]).toEqual(["10.10.0.1", "10.10.0.2"]);
  });
});
