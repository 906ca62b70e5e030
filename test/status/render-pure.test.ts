import { describe, expect, it } from "vitest";
import { formatAge, renderStatus, useColor } from "../../lib/status/render.ts";
import type { StatusReport } from "../../lib/status/types.ts";

// status's text, line by line, with and without colors.

const report: StatusReport = {
  quorate: true,
  nodes: [
    { name: "pve1", online: true, publicIPv4: "203.0.113.10" },
    { name: "pve2", online: false, publicIPv4: "203.0.113.20", error: "ssh: timeout" },
  ],
  vms: [
    {
      vmid: 101,
      node: "pve1",
      state: "running",
      fromNotes: false,
      address: { ip: "10.10.1.101", source: "static" },
      lastSwitchedTo: "pve2",
      names: [
        {
          name: "mail.example.org",
          fromNotes: false,
          expected: ["203.0.113.10"],
          masters: [
            { master: "10.0.0.53", exists: true, addresses: ["203.0.113.20"], owner: "ours" },
            { master: "10.0.1.53", error: "no answer within 700 ms (udp)" },
          ],
          drift: ["stale"],
        },
      ],
      present: [{ node: "pve1", kind: "forward", key: "tcp/2222", target: "10.10.1.101:22" }],
      grace: [{ node: "pve2", kind: "forward", key: "tcp/2222", target: "10.10.1.101:22", graceSeconds: 95 }],
    },
    {
      vmid: 105,
      node: "pve1",
      state: "stopped",
      fromNotes: true,
      address: { source: "agent" },
      names: [
        {
          name: "app.example.org",
          fromNotes: true,
          expected: [],
          masters: [{ master: "10.0.0.53", exists: true, addresses: ["192.0.2.5"], owner: "not ours" }],
          drift: ["not ours"],
        },
      ],
      present: [],
      grace: [],
    },
  ],
  pending: [
    {
      id: "dns:vm:101",
      kind: "dns",
      journal: "cluster",
      vmid: 101,
      reason: "all masters failed",
      attempts: 3,
      ageSeconds: 3720,
    },
  ],
  notes: ["vms.106 (Notes): forward tcp/25 is outside the notes policy"],
  errors: ["node pve2: ssh: timeout"],
};

describe("renderStatus", () => {
  it("without colors: nodes, each VM with its address and source, names per master with the drift reason, entries, pending, Notes marks", () => {
    expect(renderStatus(report, { color: false })).toEqual([
      "cluster quorate; nodes: pve1 203.0.113.10, pve2 203.0.113.20 (offline) (not read)",
      "VM 101  running on pve1 (last switched to pve2)  10.10.1.101 (static)",
      "  mail.example.org  drift: stale (want 203.0.113.10)  10.0.0.53: 203.0.113.20  10.0.1.53: ? (no answer within 700 ms (udp))",
      "  on pve1: tcp/2222 -> 10.10.1.101:22",
      "  elsewhere: pve2 tcp/2222 -> 10.10.1.101:22 (grace, 1m left)",
      "VM 105 [notes]  stopped on pve1  no address (agent)",
      "  app.example.org [notes]  drift: not ours  10.0.0.53: 192.0.2.5 [not ours]",
      "pending:",
      "  dns:vm:101 (VM 101, cluster journal, 1h2m old, 3 failed): all masters failed",
      "notes ignored: vms.106 (Notes): forward tcp/25 is outside the notes policy",
      "not read: node pve2: ssh: timeout",
      "[notes]: from the guest's Notes, not the config file",
    ]);
  });

  it("with colors: the same text with SGR codes, and none without", () => {
    const colored = renderStatus(report, { color: true });
    expect(colored.join("\n")).toContain("\x1b[31mdrift: stale\x1b[0m");
    expect(colored.join("\n")).toContain("\x1b[32mrunning\x1b[0m");
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping the SGR codes
    expect(colored.map((l) => l.replace(/\x1b\[\d+m/g, ""))).toEqual(renderStatus(report, { color: false }));
    expect(renderStatus(report, { color: false }).join("")).not.toContain("\x1b");
  });
});

describe("useColor", () => {
  it.each([
    ["a terminal", true, {}, true],
    ["a pipe", false, {}, false],
    ["unknown (not a TTY)", undefined, {}, false],
    ["NO_COLOR=1 on a terminal", true, { NO_COLOR: "1" }, false],
    ["NO_COLOR set but empty (no-color.org: ignored)", true, { NO_COLOR: "" }, true],
    ["TERM=dumb", true, { TERM: "dumb" }, false],
  ] as const)("%s", (_what, tty, env, want) => {
    expect(useColor(tty, env)).toBe(want);
  });
});

describe("formatAge", () => {
  it.each([
    [0, "0s"],
    [59, "59s"],
    [60, "1m"],
    [3600, "1h"],
    [3720, "1h2m"],
    [90_000, "1d1h"],
  ] as const)("%i s -> %s", (s, want) => {
    expect(formatAge(s)).toBe(want);
  });
});
