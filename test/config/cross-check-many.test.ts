import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Fixture, makeFixture, problemsOf } from "./fixture.ts";

// The port cross-check looks earlier claims up by proto/port instead of
// scanning every earlier VM per entry (linear at 10,000 guests): which clash
// is reported, where, and in which order must stay what the scan gave.

let fx: Fixture;
beforeEach(() => {
  fx = makeFixture();
});
afterEach(() => fx.cleanup());

describe("a public port claimed by several VMs", () => {
  it("each later VM names every earlier one it may share a node with, at that VM's first entry, in file order", async () => {
    const problems = await problemsOf(fx, (d) => {
      d.nodes.pve3 = { publicIPv4: "192.0.2.30", privateIP: "10.10.0.3", publicInterface: "eno1" };
      d.vms[201] = { ip: "10.10.2.1", forward: ["udp/9000", "tcp/4000:22", "tcp/4000:23"], nodes: ["pve1"] };
      d.vms[202] = { ip: "10.10.2.2", forward: ["tcp/4000:22"], nodes: ["pve2"] };
      d.vms[203] = { ip: "10.10.2.3", forward: ["tcp/4000:22"], nodes: ["pve1", "pve2"] };
      d.vms[204] = { ip: "10.10.2.4", forward: ["tcp/4000:22"], nodes: ["pve3"] };
    });
    expect(problems).toEqual([
      "vms.201.forward[2]: tcp/4000 is listed twice (also [1])",
      "vms.203.forward[0]: tcp/4000 is also claimed by VM 201 (vms.201.forward[1]); VMs 201 and 203 would collide on a shared node",
      "vms.203.forward[0]: tcp/4000 is also claimed by VM 202 (vms.202.forward[0]); VMs 202 and 203 would collide on a shared node",
    ]);
  });

  it("a reserved port's suggestion skips ports any VM claims, later VMs too", async () => {
    const problems = await problemsOf(fx, (d) => {
      d.vms[102].forward.push("tcp/22");
      d.vms[150] = { ip: "10.10.1.150", forward: ["tcp/2222:2222", "tcp/2223:2223"], nodes: ["pve2"] };
    });
    // 101 holds tcp/2222 and 150 (later in the file) tcp/2223: the first free one is 2224.
    expect(problems).toEqual([
      "vms.102.forward[1]: tcp/22 is reserved on every node (reservedPorts: sshd); use e.g. tcp/2224:22",
      "vms.150.forward[0]: tcp/2222 is also claimed by VM 101 (vms.101.forward[1]); VMs 101 and 150 would collide on a shared node",
    ]);
  });
});
