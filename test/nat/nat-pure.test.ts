import { describe, expect, it } from "vitest";
import { describePlan } from "../../lib/backend/types.ts";
import type { NodeDesired, NodeForward } from "../../lib/desired/types.ts";
import { InputError } from "../../lib/errors.ts";
import { createNatBackend } from "../../lib/nat/backend.ts";
import { type NatCurrent, parseNftElements, parseNftLayout } from "../../lib/nat/parse.ts";
import { planNat } from "../../lib/nat/plan.ts";
import { layoutLines, renderNftScript, tableLayout } from "../../lib/nat/render.ts";
import { natSpec } from "../../lib/nat/spec.ts";
import { renderPlan } from "../../lib/plan/types.ts";
import { pve1Desired } from "../support/node-desired.ts";

const NOW = 1_800_000_000_000;

const node = (forwards: NodeForward[]): NodeDesired => pve1Desired({ forwards });
const ssh: NodeForward = { vmid: 101, proto: "tcp", publicPort: 2222, target: "10.10.1.101", targetPort: 22 };
const smtp: NodeForward = { vmid: 101, proto: "tcp", publicPort: 25, target: "10.10.1.101", targetPort: 25 };
const wg: NodeForward = {
  vmid: 102,
  proto: "udp",
  publicPort: 51820,
  target: "10.10.1.102",
  targetPort: 51820,
};

// What nft 1.0.6 printed for a table rendered from node([smtp, ssh, wg-grace]) (captured on this machine).
const LISTED = `table ip pvemigrate {
	map fwd_tcp {
		type inet_service : ipv4_addr . inet_service
		elements = { 25 : 10.10.1.101 . 25,
			     2222 : 10.10.1.101 . 22 }
	}

	map grace_tcp {
		type inet_service : ipv4_addr . inet_service
		flags timeout
	}

	map fwd_udp {
		type inet_service : ipv4_addr . inet_service
	}

	map grace_udp {
		type inet_service : ipv4_addr . inet_service
		flags timeout
		elements = { 51820 timeout 1m expires 59s944ms : 10.10.1.102 . 51820 }
	}

	set grace_keep {
		type ipv4_addr
	}

	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname != "eno1" ip daddr 203.0.113.10 ct mark set ct mark | 0x00200000
		ip daddr 203.0.113.10 dnat ip to tcp dport map @fwd_tcp
		ip daddr 203.0.113.10 dnat ip to udp dport map @fwd_udp
		ip daddr 203.0.113.10 tcp dport @grace_tcp ct mark set ct mark | 0x00100000 dnat ip to tcp dport map @grace_tcp
		ip daddr 203.0.113.10 udp dport @grace_udp ct mark set ct mark | 0x00100000 dnat ip to udp dport map @grace_udp
	}

	chain output {
		type nat hook output priority -100; policy accept;
		ip daddr 203.0.113.10 dnat ip to tcp dport map @fwd_tcp
		ip daddr 203.0.113.10 dnat ip to udp dport map @fwd_udp
		ip daddr 203.0.113.10 tcp dport @grace_tcp ct mark set ct mark | 0x00100000 dnat ip to tcp dport map @grace_tcp
		ip daddr 203.0.113.10 udp dport @grace_udp ct mark set ct mark | 0x00100000 dnat ip to udp dport map @grace_udp
	}

	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 10.10.0.0/16 oifname "eno1" masquerade
		ct mark & 0x00200000 != 0x00000000 masquerade
		ct mark & 0x00100000 != 0x00000000 ip daddr != @grace_keep masquerade
	}
}
`;
const JSON_LISTED = JSON.stringify({
  nftables: [
    { metainfo: { version: "1.0.6", json_schema_version: 1 } },
    { table: { family: "ip", name: "pvemigrate", handle: 1 } },
    {
      map: {
        family: "ip",
        name: "fwd_tcp",
        table: "pvemigrate",
        type: "inet_service",
        map: "ipv4_addr . inet_service",
        elem: [
          [25, { concat: ["10.10.1.101", 25] }],
          [2222, { concat: ["10.10.1.101", 22] }],
        ],
      },
    },
    { map: { family: "ip", name: "grace_tcp", table: "pvemigrate", flags: ["timeout"] } },
    { map: { family: "ip", name: "fwd_udp", table: "pvemigrate" } },
    {
      map: {
        family: "ip",
        name: "grace_udp",
        table: "pvemigrate",
        flags: ["timeout"],
        elem: [[{ elem: { val: 51820, timeout: 60, expires: 59 } }, { concat: ["10.10.1.102", 51820] }]],
      },
    },
    {
      chain: {
        family: "ip",
        table: "pvemigrate",
        name: "prerouting",
        type: "nat",
        hook: "prerouting",
        prio: -100,
      },
    },
  ],
});

function current(now: number): NatCurrent {
  return {
    table: "pvemigrate",
    exists: true,
    layout: parseNftLayout(LISTED),
    forwards: parseNftElements(JSON_LISTED, now),
  };
}

describe("nat spec", () => {
  it("drops ended grace forwards, keeps live ones, sorts by proto and port", () => {
    const spec = natSpec(node([ssh, { ...wg, graceUntil: NOW - 1 }, smtp]), "pvemigrate", NOW);
    expect(spec.forwards.map((f) => `${f.proto}/${f.publicPort}`)).toEqual(["tcp/25", "tcp/2222"]);
  });

  it("lets a VM living here win over another VM's grace entry on the same port", () => {
    const leaving = { ...ssh, vmid: 200, target: "10.10.2.200", graceUntil: NOW + 60_000 };
    expect(natSpec(node([leaving, ssh]), "t", NOW).forwards).toEqual([ssh]);
    expect(natSpec(node([ssh, leaving]), "t", NOW).forwards).toEqual([ssh]);
  });

  it("refuses the same public port twice", () => {
    expect(() => natSpec(node([ssh, { ...ssh, vmid: 102 }]), "t", NOW)).toThrow(
      /tcp\/2222 is forwarded twice/,
    );
  });

  it("refuses bad values with an InputError naming the field", () => {
    expect(() => natSpec(node([{ ...ssh, targetPort: 0 }]), "t", NOW)).toThrow(/^forwards\[0\]\.targetPort/);
    expect(() => natSpec(node([{ ...ssh, proto: "icmp" as "tcp" }]), "t", NOW)).toThrow(InputError);
    expect(() => natSpec(node([ssh]), "bad table", NOW)).toThrow(/^nat\.table/);
    expect(() => natSpec({ ...node([]), publicIPv4: "203.0.113.1/24" }, "t", NOW)).toThrow(
      /^nodes\.publicIPv4/,
    );
  });
});

describe("nft rendering", () => {
  it("replaces only its own table, atomically, with grace elements carrying their remaining time", () => {
    const script = renderNftScript(
      natSpec(node([ssh, { ...wg, graceUntil: NOW + 90_500 }]), "pvemigrate", NOW),
      NOW,
    );
    const lines = script.split("\n");
    expect(lines.slice(0, 3)).toEqual([
      "table ip pvemigrate",
      "delete table ip pvemigrate",
      "table ip pvemigrate {",
    ]);
    // No public IPv6: the ip6 table of the same name is deleted in the same transaction.
    expect(lines.slice(-3)).toEqual(["table ip6 pvemigrate", "delete table ip6 pvemigrate", ""]);
    expect(script).toContain("elements = { 2222 : 10.10.1.101 . 22 }");
    expect(script).toContain("elements = { 51820 timeout 90500ms : 10.10.1.102 . 51820 }");
    expect(script).toContain('ip saddr 10.10.0.0/16 oifname "eno1" masquerade');
    expect(script).not.toMatch(/flush|ruleset/);
    expect(script.match(/^table /gm)).toHaveLength(3);
    expect([...script.matchAll(/table ip6? (\S+)/g)].every((m) => m[1] === "pvemigrate")).toBe(true);
  });

  it("reads nft's own listing back as the same layout it renders", () => {
    const spec = natSpec(node([smtp, ssh]), "pvemigrate", NOW);
    expect(parseNftLayout(LISTED)).toEqual(layoutLines(tableLayout(spec, NOW)));
  });

  it("reads elements back from JSON, grace ones with their end time", () => {
    expect(parseNftElements(JSON_LISTED, NOW)).toEqual([
      { proto: "tcp", publicPort: 25, target: "10.10.1.101", targetPort: 25 },
      { proto: "tcp", publicPort: 2222, target: "10.10.1.101", targetPort: 22 },
      { proto: "udp", publicPort: 51820, target: "10.10.1.102", targetPort: 51820, graceUntil: NOW + 59_000 },
    ]);
    expect(() =>
      parseNftElements(JSON.stringify({ nftables: [{ map: { name: "fwd_tcp", elem: [["x"]] } }] }), NOW),
    ).toThrow(/unexpected element/);
  });
});

describe("nat plan", () => {
  const desired = node([smtp, ssh, { ...wg, graceUntil: NOW + 60_000 }]);

  it("is empty when the table matches (grace end times within tolerance)", () => {
    const plan = planNat(natSpec(desired, "pvemigrate", NOW), current(NOW), NOW);
    expect(renderPlan(plan)).toEqual([]);
    expect(plan.script).toBeNull();
    expect(describePlan(plan)).toEqual(["= nftables: no changes"]);
  });

  it("creates a missing table with every forward", () => {
    const missing: NatCurrent = { table: "pvemigrate", exists: false, layout: [], forwards: [] };
    const plan = planNat(natSpec(desired, "pvemigrate", NOW), missing, NOW);
    expect(renderPlan(plan)).toEqual([
      "+ table ip pvemigrate (masquerade 10.10.0.0/16 on eno1)",
      "+ tcp/25 -> 10.10.1.101:25 (vm 101)",
      "+ tcp/2222 -> 10.10.1.101:22 (vm 101)",
      "+ udp/51820 -> 10.10.1.102:51820 (vm 102) [grace, 60s left]",
    ]);
    expect(plan.script).toContain("table ip pvemigrate {");
  });

  it("shows added, changed and removed forwards", () => {
    const next = node([
      { ...ssh, targetPort: 2022 },
      { ...wg, publicPort: 51821 },
    ]);
    const plan = planNat(natSpec(next, "pvemigrate", NOW), current(NOW), NOW);
    expect(renderPlan(plan)).toEqual([
      "~ tcp/2222 -> 10.10.1.101:2022 (vm 101) (was 10.10.1.101:22)",
      "+ udp/51821 -> 10.10.1.102:51820 (vm 102)",
      "- tcp/25 -> 10.10.1.101:25",
      "- udp/51820 -> 10.10.1.102:51820 [grace, 59s left]",
    ]);
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
  });

  it("re-renders when the layout differs (another interface, a rule someone added)", () => {
    const moved = { ...desired, publicInterface: "eno2" };
    expect(renderPlan(planNat(natSpec(moved, "pvemigrate", NOW), current(NOW), NOW))).toEqual([
      '~ table ip pvemigrate layout -> "chain prerouting: iifname != \\"eno2\\" ip daddr 203.0.113.10 ct mark set ct mark | 0x00200000" (was "chain prerouting: iifname != \\"eno1\\" ip daddr 203.0.113.10 ct mark set ct mark | 0x00200000")',
    ]);
    const tampered = {
      ...current(NOW),
      layout: [...current(NOW).layout, "chain postrouting: tcp dport 22 accept"],
    };
    expect(renderPlan(planNat(natSpec(desired, "pvemigrate", NOW), tampered, NOW))).toEqual([
      '~ table ip pvemigrate layout -> "(end)" (was "chain postrouting: tcp dport 22 accept")',
    ]);
  });

  it("notices a grace end time that moved, but not an entry nft already expired seconds before its end", () => {
    const extended = node([smtp, ssh, { ...wg, graceUntil: NOW + 120_000 }]);
    expect(renderPlan(planNat(natSpec(extended, "pvemigrate", NOW), current(NOW), NOW))).toHaveLength(1);
    const cur = { ...current(NOW), forwards: current(NOW).forwards.filter((f) => f.proto === "tcp") };
    const ending = node([smtp, ssh, { ...wg, graceUntil: NOW + 1500 }]);
    expect(renderPlan(planNat(natSpec(ending, "pvemigrate", NOW), cur, NOW))).toEqual([]);
  });
});

describe("nat.backend none", () => {
  it("runs nothing and plans nothing, but still refuses bad input", async () => {
    const backend = createNatBackend({
      nat: { backend: "none", table: "pvemigrate" },
      exec: async () => {
        throw new Error("must not run anything");
      },
    });
    const current = await backend.read();
    const plan = backend.plan(node([ssh]), current, NOW);
    expect(renderPlan(plan)).toEqual([]);
    await backend.apply(plan);
    expect(() => backend.plan({ ...node([ssh]), publicInterface: "eno1 x" }, current, NOW)).toThrow(
      InputError,
    );
  });
});
