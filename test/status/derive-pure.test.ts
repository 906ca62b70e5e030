import { describe, expect, it } from "vitest";
import { entriesOf, nameDrift, nodeEntryList, pendingOf, vmidOfItem } from "../../lib/status/derive.ts";
import type { MasterAnswer } from "../../lib/status/types.ts";

// status's decisions, as tables: why a name drifts, which entries point at a
// VM on its node and elsewhere, how old pending work is.

const m = (over: Partial<MasterAnswer>): MasterAnswer => ({
  master: "m1",
  exists: true,
  addresses: ["203.0.113.10"],
  owner: "ours",
  ...over,
});

describe("nameDrift", () => {
  it.each([
    ["as wanted at every master", ["203.0.113.10"], [m({}), m({ master: "m2" })], []],
    ["someone else's name", ["203.0.113.10"], [m({ owner: "not ours" })], ["not ours"]],
    ["our TXT names another VM", ["203.0.113.10"], [m({ owner: "vm 105" })], ["another VM's"]],
    ["still the old node's address", ["203.0.113.20"], [m({})], ["stale"]],
    ["the VM runs, the name is gone", ["203.0.113.10"], [m({ exists: false, addresses: [] })], ["missing"]],
    [
      "masters disagree (one lags)",
      ["203.0.113.10"],
      [m({}), m({ master: "m2", addresses: ["203.0.113.20"] })],
      ["diverging masters", "stale"],
    ],
    ["a stopped VM's name may hold anything", [], [m({ addresses: ["192.0.2.1"] })], []],
    [
      "a master that did not answer is no evidence",
      ["203.0.113.10"],
      [m({}), { master: "m2", error: "timeout" }],
      [],
    ],
    [
      "address order does not matter",
      ["2001:db8::1", "203.0.113.10"],
      [m({ addresses: ["203.0.113.10", "2001:db8::1"] })],
      [],
    ],
  ] as const)("%s", (_what, expected, masters, want) => {
    expect(nameDrift(expected, masters)).toEqual(want);
  });
});

describe("entriesOf", () => {
  const now = 1_000_000;
  const entries = nodeEntryList(
    [
      {
        node: "pve1",
        forwards: [{ proto: "tcp", publicPort: 2222, target: "10.10.1.101", targetPort: 22 }],
        routes: {
          sni: { "mail.example.org": "10.10.1.101:443" },
          http: { "www.example.org": "10.10.1.102:80" },
        },
        pending: [],
      },
      {
        node: "pve2",
        forwards: [
          { proto: "tcp", publicPort: 2222, target: "10.10.1.101", targetPort: 22, graceUntil: now + 25_000 },
          { family: 6, proto: "udp", publicPort: 51820, target: "fd10::101", targetPort: 51820 },
        ],
        routes: { sni: {}, http: {} },
        pending: [],
      },
    ],
    now,
  );

  it("splits a VM's entries into those on its node and grace entries elsewhere, IPv6 too", () => {
    const { present, grace } = entriesOf(entries, ["10.10.1.101", "fd10::101"], "pve1");
    expect(present).toEqual([
      { node: "pve1", kind: "forward", key: "tcp/2222", target: "10.10.1.101:22" },
      { node: "pve1", kind: "sni", key: "mail.example.org", target: "10.10.1.101:443" },
    ]);
    expect(grace).toEqual([
      { node: "pve2", kind: "forward", key: "tcp/2222", target: "10.10.1.101:22", graceSeconds: 25 },
      { node: "pve2", kind: "forward", key: "ip6 udp/51820", target: "[fd10::101]:51820" },
    ]);
  });

  it("another VM's entries are not this VM's", () => {
    expect(entriesOf(entries, ["10.10.1.10"], "pve1")).toEqual({ present: [], grace: [] });
  });
});

describe("pending work", () => {
  const item = (over: object) => ({
    id: "dns:vm:101",
    kind: "dns",
    rev: "r",
    createdAt: "2026-12-03T10:00:00.000Z",
    updatedAt: "2026-12-03T10:00:00.000Z",
    attempts: 2,
    payload: { vmid: 101 },
    ...over,
  });

  it("carries its reason, age and guest; node work names no guest", () => {
    const now = Date.parse("2026-12-03T10:03:00.000Z");
    expect(pendingOf([item({ lastError: "all masters failed" })], "cluster", now)).toEqual([
      {
        id: "dns:vm:101",
        kind: "dns",
        journal: "cluster",
        vmid: 101,
        reason: "all masters failed",
        attempts: 2,
        ageSeconds: 180,
      },
    ]);
    expect(
      pendingOf([item({ id: "node:pve1", kind: "node", payload: { node: "pve1" } })], "pve1", now)[0],
    ).toEqual({
      id: "node:pve1",
      kind: "node",
      journal: "pve1",
      reason: "not tried yet",
      attempts: 2,
      ageSeconds: 180,
    });
  });

  it("reads the guest from the payload only when it is a positive integer", () => {
    expect(vmidOfItem({ payload: { vmid: 101 } })).toBe(101);
    expect(vmidOfItem({ payload: { vmid: "101" } })).toBeUndefined();
    expect(vmidOfItem({ payload: null })).toBeUndefined();
  });
});
