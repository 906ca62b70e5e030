import { describe, expect, it } from "vitest";
import {
  guestMacs,
  inCidr,
  isLoopbackOrLinkLocal,
  parseCidr,
  parseLeases,
  pickAgentAddress,
  pickLease,
  pickNeighbour,
} from "../../lib/cluster/ip.ts";
import { formatUpid, parseUpid } from "../../lib/cluster/upid.ts";
import { AGENT_ANSWER } from "./fixtures.ts";

describe("CIDR helpers", () => {
  it("matches IPv4 and IPv6 networks", () => {
    const v4 = parseCidr("10.10.0.0/16")!;
    expect(inCidr("10.10.255.1", v4)).toBe(true);
    expect(inCidr("10.11.0.1", v4)).toBe(false);
    expect(inCidr("2001:db8::1", v4)).toBe(false);
    const v6 = parseCidr("2001:db8::/32")!;
    expect(inCidr("2001:db8:ffff::1", v6)).toBe(true);
    expect(inCidr("2001:db9::1", v6)).toBe(false);
    expect(parseCidr("10.0.0.0/33")).toBeUndefined();
    expect(parseCidr("nonsense")).toBeUndefined();
  });
  it("knows loopback and link-local", () => {
    for (const a of ["127.0.0.1", "169.254.1.1", "::1", "fe80::1", "fe80::1%eth0", "febf::1"]) {
      expect(isLoopbackOrLinkLocal(a)).toBe(true);
    }
    for (const a of ["10.0.0.1", "2001:db8::1", "fec0::1"]) expect(isLoopbackOrLinkLocal(a)).toBe(false);
  });
});

describe("pickAgentAddress", () => {
  it("picks the VM-network address among docker0, link-local, IPv6 and loopback", () => {
    expect(pickAgentAddress(AGENT_ANSWER, "10.10.0.0/16")).toEqual({
      ok: true,
      address: "10.10.1.101",
      source: "ens18",
    });
  });
  it("picks the global IPv6 address for an IPv6 VM network, never the link-local one", () => {
    expect(pickAgentAddress(AGENT_ANSWER, "2001:db8::/64")).toMatchObject({ address: "2001:db8::101" });
    expect(pickAgentAddress(AGENT_ANSWER, "fe80::/10")).toMatchObject({ ok: false });
  });
  it("explains what it saw when nothing fits", () => {
    const r = pickAgentAddress(AGENT_ANSWER, "10.20.0.0/16");
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toContain("no address in 10.20.0.0/16");
      expect(r.reason).toContain("docker0 172.17.0.1");
    }
  });
});

describe("MACs, dnsmasq leases and neighbours", () => {
  const qemu = {
    net0: "virtio=BC:24:11:AA:BB:CC,bridge=vmbr1,firewall=1",
    net1: "e1000=BC:24:11:00:00:01,bridge=vmbr0",
  };
  const lxc = { net0: "name=eth0,bridge=vmbr1,hwaddr=BC:24:11:DD:EE:FF,ip=dhcp,type=veth" };

  it("reads MACs from qemu and lxc netN", () => {
    expect(guestMacs(qemu)).toEqual(["bc:24:11:aa:bb:cc", "bc:24:11:00:00:01"]);
    expect(guestMacs(lxc)).toEqual(["bc:24:11:dd:ee:ff"]);
    expect(
      guestMacs({ net10: "virtio=BC:24:11:00:00:10", net2: "virtio=BC:24:11:00:00:02", scsi0: "x" }),
    ).toEqual(["bc:24:11:00:00:02", "bc:24:11:00:00:10"]);
  });

  const leasesText = [
    "1764000000 bc:24:11:aa:bb:cc 10.10.1.50 old-name 01:bc:24:11:aa:bb:cc",
    "1764009999 bc:24:11:aa:bb:cc 10.10.1.101 web1 01:bc:24:11:aa:bb:cc",
    "1764009999 bc:24:11:00:00:01 192.168.5.7 web1-mgmt *",
    "1764005000 02:42:ac:11:00:02 10.10.9.9 other *",
    "duid 00:01:00:01:2c:aa:bb:cc:dd:ee:ff:00",
    "1764009999 1234567 2001:db8::5 web1 00:01:00:01",
  ].join("\n");

  it("parses leases and skips DHCPv6 lines", () => {
    const leases = parseLeases(leasesText);
    expect(leases).toHaveLength(4);
    expect(leases[1]).toEqual({
      expiry: 1764009999,
      mac: "bc:24:11:aa:bb:cc",
      ip: "10.10.1.101",
      hostname: "web1",
    });
  });

  it("picks the newest lease of the guest's MACs inside the VM network", () => {
    const r = pickLease(parseLeases(leasesText), guestMacs(qemu), "10.10.0.0/16");
    expect(r).toEqual({ ok: true, address: "10.10.1.101", source: "bc:24:11:aa:bb:cc" });
  });

  it("says which MAC had no lease", () => {
    const r = pickLease(parseLeases(leasesText), guestMacs(lxc), "10.10.0.0/16");
    expect(r).toEqual({ ok: false, reason: "no lease in 10.10.0.0/16 for MAC bc:24:11:dd:ee:ff" });
    expect(pickLease([], [], "10.10.0.0/16")).toMatchObject({
      ok: false,
      reason: expect.stringContaining("no netN"),
    });
  });

  it("picks a reachable neighbour entry by MAC", () => {
    const neigh = [
      { dst: "10.10.1.77", lladdr: "bc:24:11:aa:bb:cc", state: ["FAILED"] },
      { dst: "fe80::be24:11ff:feaa:bbcc", lladdr: "bc:24:11:aa:bb:cc", state: ["STALE"] },
      { dst: "10.10.1.101", lladdr: "BC:24:11:AA:BB:CC", state: ["REACHABLE"] },
    ];
    expect(pickNeighbour(neigh, guestMacs(qemu), "10.10.0.0/16")).toMatchObject({
      ok: true,
      address: "10.10.1.101",
    });
    expect(pickNeighbour(neigh, guestMacs(lxc), "10.10.0.0/16")).toMatchObject({ ok: false });
  });
});

describe("UPIDs", () => {
  it("round-trips the documented format", () => {
    const upid = "UPID:pve1:0000A1B2:0036C3D4:6745F0A1:qmigrate:101:root@pam!pvemigrate:";
    const u = parseUpid(upid)!;
    expect(u).toMatchObject({
      node: "pve1",
      pid: 0xa1b2,
      type: "qmigrate",
      id: "101",
      user: "root@pam!pvemigrate",
    });
    expect(formatUpid(u)).toBe(upid);
    expect(parseUpid("UPID:bad")).toBeUndefined();
  });
});
