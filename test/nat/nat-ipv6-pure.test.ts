import { describe, expect, it } from "vitest";
import { canonicalIPv6 } from "../../lib/cluster/ip.ts";
import type { NodeDesired, NodeForward } from "../../lib/desired/types.ts";
import { InputError } from "../../lib/errors.ts";
import { type NatCurrent, parseNftElements, parseNftLayout, parseNftSets } from "../../lib/nat/parse.ts";
import { planNat } from "../../lib/nat/plan.ts";
import { parseDefaultGateway, parseRules, planRouting, ROUTING_BASE } from "../../lib/nat/policy.ts";
import { layoutLines, renderNftScript, tableLayout } from "../../lib/nat/render.ts";
import { natSpec } from "../../lib/nat/spec.ts";
import { renderPlan } from "../../lib/plan/types.ts";
import { pve1Desired } from "../support/node-desired.ts";
import { LISTED_IP_POLICY, LISTED_IP6 } from "./nft-listings.ts";

// IPv6 forwards (a second table, `table ip6`), the client-keeping grace mode
// (grace_keep, per-peer arrival sets, the mangle chain) and its policy
// routing, without a kernel: nft's own listings were captured once.

const NOW = 1_800_000_000_000;
const smtp: NodeForward = {
  vmid: 101,
  proto: "tcp",
  publicPort: 25,
  target: "10.10.1.101",
  targetPort: 25,
  target6: "fd10:10:0:0::0101",
};
const ssh: NodeForward = { vmid: 101, proto: "tcp", publicPort: 2222, target: "10.10.1.101", targetPort: 22 };
const wgGrace: NodeForward = {
  vmid: 102,
  proto: "udp",
  publicPort: 51820,
  target: "10.10.1.102",
  targetPort: 51820,
  target6: "fd10:10::102",
  graceUntil: NOW + 60_000,
  keepClient: true,
};

// The same input the captured listings were rendered from.
function dual(forwards: NodeForward[] = [smtp, ssh, wgGrace]): NodeDesired {
  return pve1Desired({
    publicIPv6: "2001:db8:0::10",
    vmNetwork6: "fd10:10::/48",
    forwards,
    peers: [{ node: "pve2", index: 2, privateIP: "10.99.0.2" }],
    arrivals: [{ vmid: 103, from: "pve2", ip: "10.10.1.103" }],
  });
}

// pve2's rule and route in place, as the read-back gives them.
const T2 = String(ROUTING_BASE + 2);
const ROUTED = {
  rules: [{ priority: ROUTING_BASE + 2, fwmark: 0x02000000, fwmask: 0xff000000, table: T2 }],
  gateways: { [T2]: "10.99.0.2" },
};

describe("IPv6 forwards", () => {
  it("forwards the same public port on the node's IPv6 to the VM's ip6, in canonical form", () => {
    const spec = natSpec(dual(), "pvemigrate", NOW);
    expect(spec.publicIPv6).toBe("2001:db8::10");
    expect(spec.forwards.filter((f) => f.family === 6).map((f) => `${f.publicPort}->${f.target}`)).toEqual([
      "25->fd10:10::101",
      "51820->fd10:10::102",
    ]);
  });

  it("renders no IPv6 forward on a node without a public IPv6, and deletes its ip6 table", () => {
    const { publicIPv6: _, ...v4only } = dual();
    const spec = natSpec(v4only, "pvemigrate", NOW);
    expect(spec.forwards.some((f) => f.family === 6)).toBe(false);
    const script = renderNftScript(spec, NOW);
    expect(script).toContain("table ip6 pvemigrate\ndelete table ip6 pvemigrate\n");
    expect(script).not.toContain("table ip6 pvemigrate {");
  });

  it("refuses a bad IPv6 with an InputError naming the field", () => {
    expect(() => natSpec(dual([{ ...smtp, target6: "fd10::1 ; flush ruleset" }]), "t", NOW)).toThrow(
      /^forwards\[0\]\.target6/,
    );
    expect(() => natSpec({ ...dual(), publicIPv6: "fe80::1%eno1" }, "t", NOW)).toThrow(InputError);
    expect(() => natSpec({ ...dual(), vmNetwork6: "fd10:10::1/48" }, "t", NOW)).toThrow(/host bits/);
  });

  it("reads nft's own listing of both tables back as the layouts it renders", () => {
    const spec = natSpec(dual(), "pvemigrate", NOW);
    expect(parseNftLayout(LISTED_IP_POLICY)).toEqual(layoutLines(tableLayout(spec, NOW, 4)));
    expect(parseNftLayout(LISTED_IP6)).toEqual(layoutLines(tableLayout(spec, NOW, 6)));
  });

  it("reads IPv6 map elements back as family 6 forwards", () => {
    const json = JSON.stringify({
      nftables: [
        {
          map: {
            family: "ip6",
            name: "fwd_tcp",
            elem: [[25, { concat: ["fd10:10::101", 25] }]],
          },
        },
      ],
    });
    expect(parseNftElements(json, NOW)).toEqual([
      { family: 6, proto: "tcp", publicPort: 25, target: "fd10:10::101", targetPort: 25 },
    ]);
  });

  it("plans the ip6 table and its forwards, and withdraws them when the node loses its IPv6", () => {
    const none: NatCurrent = { table: "pvemigrate", exists: true, layout: [], forwards: [] };
    const plan = planNat(natSpec(dual([smtp]), "pvemigrate", NOW), none, NOW);
    expect(renderPlan(plan)).toContain("+ table ip6 pvemigrate (masquerade fd10:10::/48 on eno1)");
    expect(renderPlan(plan)).toContain("+ ip6 tcp/25 -> [fd10:10::101]:25 (vm 101)");

    const spec = natSpec(dual([smtp]), "pvemigrate", NOW);
    const applied: NatCurrent = {
      table: "pvemigrate",
      exists: true,
      layout: layoutLines(tableLayout(spec, NOW, 4)),
      ip6: { exists: true, layout: layoutLines(tableLayout(spec, NOW, 6)) },
      forwards: spec.forwards,
      sets: { "ip grace_keep": [], "ip from_2": ["10.10.1.103"] },
      routing: ROUTED,
    };
    expect(renderPlan(planNat(spec, applied, NOW))).toEqual([]);
    const { publicIPv6: _, ...v4only } = dual([smtp]);
    expect(renderPlan(planNat(natSpec(v4only, "pvemigrate", NOW), applied, NOW))).toEqual([
      "- table ip6 pvemigrate (the node has no publicIPv6)",
      "- ip6 tcp/25 -> [fd10:10::101]:25 (vm 101)",
    ]);
  });
});

describe("client-keeping grace (nat.graceMode policy-routing)", () => {
  it("keeps only IPv4 grace targets out of the grace masquerade; IPv6 grace is always masqueraded", () => {
    const spec = natSpec(dual(), "pvemigrate", NOW);
    expect(spec.keepClient).toEqual(["10.10.1.102"]);
    const v6post = tableLayout(spec, NOW, 6).find((b) => b.name === "postrouting")!;
    expect(v6post.lines).toContain("ct mark & 0x00100000 != 0x00000000 masquerade");
  });

  it("notices a VM joining or leaving a set even when the layout is unchanged", () => {
    const spec = natSpec(dual(), "pvemigrate", NOW);
    const json = JSON.stringify({
      nftables: [
        { set: { family: "ip", name: "grace_keep", elem: ["10.10.1.102"] } },
        { set: { family: "ip", name: "from_2", elem: ["10.10.1.99"] } },
      ],
    });
    const current: NatCurrent = {
      table: "pvemigrate",
      exists: true,
      layout: parseNftLayout(LISTED_IP_POLICY),
      ip6: { exists: true, layout: parseNftLayout(LISTED_IP6) },
      forwards: spec.forwards,
      sets: parseNftSets(json),
      routing: ROUTED,
    };
    const plan = planNat(spec, current, NOW);
    expect(renderPlan(plan)).toEqual(["+ ip from_2 10.10.1.103", "- ip from_2 10.10.1.99"]);
    expect(plan.script).toContain("elements = { 10.10.1.103 }");
  });

  it("adds one fwmark rule and one routing table per peer, once", () => {
    const spec = natSpec(dual(), "pvemigrate", NOW);
    const fresh = planRouting(spec, { rules: [], gateways: {} });
    const table = String(ROUTING_BASE + 2);
    expect(fresh.commands).toEqual([
      ["route", "replace", "default", "via", "10.99.0.2", "table", table],
      ["rule", "add", "fwmark", "0x02000000/0xff000000", "lookup", table, "priority", table],
    ]);
    // What `ip -j rule show` / `ip -j route show table N` print once that is applied.
    const rules = parseRules(
      `[{"priority":0,"src":"all","table":"local"},{"priority":${table},"src":"all","fwmark":"0x2000000","fwmask":"0xff000000","table":"${table}"},{"priority":32766,"src":"all","table":"main"}]`,
    );
    const gw = parseDefaultGateway('[{"dst":"default","gateway":"10.99.0.2","dev":"mesh0","flags":[]}]');
    expect(planRouting(spec, { rules, gateways: { [table]: gw! } })).toEqual({ changes: [], commands: [] });
  });

  it("removes its rules and flushes their tables when the mode goes back to snat; other rules are left", () => {
    const { peers: _p, arrivals: _a, ...snat } = dual();
    const table = String(ROUTING_BASE + 2);
    const have = {
      rules: [{ priority: ROUTING_BASE + 2, fwmark: 0x02000000, fwmask: 0xff000000, table }],
      gateways: { [table]: "10.99.0.2" },
    };
    expect(planRouting(natSpec(snat, "pvemigrate", NOW), have).commands).toEqual([
      ["rule", "del", "priority", table],
      ["route", "flush", "table", table],
    ]);
    expect(
      parseRules('[{"priority":100,"src":"all","table":"100"},{"priority":32766,"table":"main"}]'),
    ).toEqual([]);
  });
});

describe("canonicalIPv6", () => {
  it.each([
    ["FD10:0010:0000:0000:0000:0000:0000:0101", "fd10:10::101"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["::", "::"],
    ["::1", "::1"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:6"],
    ["2001:0:0:1::", "2001:0:0:1::"],
    ["::ffff:10.0.0.1", "::ffff:a00:1"],
  ])("%s -> %s", (input, out) => {
    expect(canonicalIPv6(input)).toBe(out);
  });

  it("refuses what is not an IPv6 address", () => {
    for (const bad of ["10.0.0.1", "fe80::1%eth0", "fd10::1/64", "x"])
      expect(canonicalIPv6(bad)).toBeUndefined();
  });
});
