import { describe, expect, it } from "vitest";
import type { ProxmoxClient } from "../../lib/cluster/client.ts";
import { discoverIp, IpDiscoveryError } from "../../lib/cluster/discover.ts";
import type { SnapshotVm } from "../../lib/cluster/types.ts";
import type { Exec } from "../../lib/process/run.ts";

// The guest agent's answer is written by the guest and `ip -j neigh` by another
// program: both are parsed (zod), so a malformed answer is one IpDiscoveryError
// naming the VM, never a TypeError from deep inside the address picker.

const vm: SnapshotVm = { vmid: 101, type: "qemu", node: "pve1", status: "running", tags: [] };
const opts = { vmNetwork: "10.10.0.0/16", leasesFile: "/nonexistent" };

function answering(data: unknown): ProxmoxClient {
  // Only request() is reached on the agent path.
  return { request: async () => data } as unknown as ProxmoxClient;
}

describe("IP discovery from data outside the process", () => {
  it("takes a well-formed agent answer (qemu-server API2/Qemu/Agent.pm returns { result })", async () => {
    const client = answering({
      result: [{ name: "eth0", "ip-addresses": [{ "ip-address": "10.10.1.101", prefix: 16 }], extra: 1 }],
    });
    expect(await discoverIp(client, vm, { ip: { kind: "agent" } }, opts)).toBe("10.10.1.101");
  });

  it.each([
    ["ip-addresses not a list", { result: [{ name: "eth0", "ip-addresses": 5 }] }],
    [
      "an address that is not a string",
      { result: [{ name: "eth0", "ip-addresses": [{ "ip-address": 7 }] }] },
    ],
    ["no result", {}],
    ["null", null],
  ])("refuses an agent answer with %s as IpDiscoveryError", async (_what, data) => {
    await expect(discoverIp(answering(data), vm, { ip: { kind: "agent" } }, opts)).rejects.toThrow(
      new IpDiscoveryError("VM 101: the guest agent answer is not a list of interfaces"),
    );
  });

  it.each([
    ["not JSON", "{", "VM 101: ip -j neigh printed something that is not JSON"],
    ["not a table", '{"dst":"10.10.1.101"}', "VM 101: ip -j neigh printed an unexpected table"],
  ])("refuses ip -j neigh output that is %s", async (_what, stdout, message) => {
    const exec: Exec = async () => ({ code: 0, signal: null, stdout, stderr: "" });
    const guestConfig = { net0: "virtio=BC:24:11:00:00:65,bridge=vmbr1" };
    await expect(
      discoverIp(answering(null), vm, { ip: { kind: "mac" } }, { ...opts, exec, guestConfig }),
    ).rejects.toThrow(new IpDiscoveryError(message));
  });
});
