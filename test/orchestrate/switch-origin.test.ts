import { describe, expect, it } from "vitest";
import { switchOrigin } from "../../lib/orchestrate/switch-origin.ts";

// Where a VM now running on pve2 came from, and the departure its switch
// records there: pure, no state files.

const NODES = new Set(["pve1", "pve2", "pve3"]);
const base = { self: "pve2", knownNodes: NODES, vmid: 101, now: 1000, ip: "10.10.2.101" };
const last = (node: string, privateIPs: string[] = ["10.10.1.101"], privateIPv6?: string) => ({
  node,
  privateIPs,
  ...(privateIPv6 ? { privateIPv6 } : {}),
});

describe("switchOrigin on pve2", () => {
  it.each([
    { what: "no hint, no record: no origin", input: {}, from: undefined },
    { what: "the hint names the origin", input: { hint: "pve1" }, from: "pve1" },
    { what: "the last switch's node is the origin", input: { last: last("pve3") }, from: "pve3" },
    { what: "the hint beats the record", input: { hint: "pve1", last: last("pve3") }, from: "pve1" },
    {
      what: "a hint of this node falls back to the record",
      input: { hint: "pve2", last: last("pve3") },
      from: "pve3",
    },
    { what: "a node not in the config is no origin", input: { hint: "pve9" }, from: undefined },
    { what: "last switched here: no origin", input: { last: last("pve2") }, from: undefined },
    { what: "an empty hint is no hint", input: { hint: "", last: last("pve1") }, from: "pve1" },
  ])("$what", ({ input, from }) => {
    expect(switchOrigin({ ...base, ...input }).from).toBe(from);
  });

  it("the departure forwards to the address the old node forwarded to, with its IPv6", () => {
    const o = switchOrigin({ ...base, last: last("pve1", ["10.10.1.101"], "fd00::101"), ip6: "fd00::202" });
    expect(o.departure).toEqual({
      vmid: 101,
      node: "pve1",
      ip: "10.10.1.101",
      ip6: "fd00::101",
      leftAt: 1000,
    });
  });

  it("without a record the departure uses the VM's current addresses", () => {
    const o = switchOrigin({ ...base, hint: "pve1", ip6: "fd00::202" });
    expect(o.departure).toEqual({
      vmid: 101,
      node: "pve1",
      ip: "10.10.2.101",
      ip6: "fd00::202",
      leftAt: 1000,
    });
  });

  it("no private IPv4 anywhere: an origin, but no departure to record", () => {
    const o = switchOrigin({ ...base, ip: undefined, hint: "pve1" });
    expect(o).toEqual({ from: "pve1" });
  });
});
