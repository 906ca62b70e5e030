import { describe, expect, it } from "vitest";
import { judgeClock, judgeMasters, judgeUpdate } from "../../lib/doctor/check-dns.ts";
import { judgeIpForward, judgeTimer } from "../../lib/doctor/check-node.ts";
import type { MasterProbe } from "../../lib/doctor/dns-probe.ts";
import { dedupeFindings, judgeVersions } from "../../lib/doctor/merge.ts";
import { fail, ok, warn } from "../../lib/doctor/types.ts";

// The pure halves of `doctor --cluster` besides corosync: the masters'
// probes judged, a node's facts, the nodes' findings merged.

describe("masters judged", () => {
  const dns = {
    zone: "example.org",
    tsig: { name: "k", algorithm: "hmac-sha256" as const, secretFile: "/x" },
  };
  const up = (master: string, more: Partial<MasterProbe> = {}): MasterProbe => ({
    master,
    serial: 1,
    skewSeconds: 0,
    update: { kind: "allowed" },
    answers: new Map(),
    ...more,
  });
  it.each([
    [[0, 1, -1], "ok"],
    [[0, -11], "warn"],
    [[-121], "fail"],
    [[200, 201], "fail"],
  ])("clock skews %j -> %s", (skews, status) => {
    const f = judgeClock(skews.map((s, i) => up(`m${i}`, { skewSeconds: s })));
    expect(f.map((x) => x.status)).toEqual([status]);
  });
  it("the clock finding names the direction and each master; none when no master answered", () => {
    expect(judgeClock([up("m1", { skewSeconds: -120 }), up("m2", { skewSeconds: 5 })])[0]?.message).toBe(
      "this node's clock is 120 s ahead of m1, 5 s behind m2 (by the masters' signed replies)",
    );
    expect(
      judgeClock([{ master: "m1", failure: { kind: "down", reason: "connection refused (udp)" } }]),
    ).toEqual([]);
  });
  it("update permission: one finding per outcome, naming the masters", () => {
    const f = judgeUpdate(dns, [
      up("m1", { update: { kind: "refused", rcode: "REFUSED", detail: "" } }),
      up("m2", { update: { kind: "refused", rcode: "NOTAUTH", detail: "" } }),
      up("m3"),
    ]);
    expect(f.map((x) => [x.status, x.message])).toEqual([
      ["ok", 'key "k" may update example.org at m3'],
      ["fail", 'key "k" may not update example.org at m1 (REFUSED), m2 (NOTAUTH)'],
    ]);
    expect(f[1]?.hint).toMatch(/update-policy \{ grant "k" zonesub ANY; \}/);
  });
  it("a dead master is one dns failure and takes no part in the rest; serials and answers that differ are one warning", () => {
    const f = judgeMasters(dns, [
      { master: "m0", failure: { kind: "down", reason: "connection refused (udp)" } },
      up("m1", { serial: 3, answers: new Map([["a.example.org", { a: ["192.0.2.1"], aaaa: [] }]]) }),
      up("m2", { serial: 1, answers: new Map([["a.example.org", { a: [], aaaa: [] }]]) }),
    ]);
    expect(f.filter((x) => x.status !== "ok").map((x) => [x.check, x.status, x.message])).toEqual([
      ["dns", "fail", "master m0: connection refused (udp)"],
      [
        "dns",
        "warn",
        "masters disagree on the zone serial: 3 at m1, 1 at m2; masters answer differently for 1 name(s): a.example.org: 192.0.2.1 at m1, (nothing) at m2",
      ],
    ]);
    expect(f.filter((x) => x.check === "dns-update" || x.check === "clock").map((x) => x.message)).toEqual([
      'key "k" may update example.org at m1, m2',
      "this node's clock is within 10 s of every master that answered",
    ]);
  });
});

describe("node facts", () => {
  it("ip_forward 1 is ok, 0 fails with the sysctl line", () => {
    expect(judgeIpForward("1\n").status).toBe("ok");
    expect(judgeIpForward("0\n")).toMatchObject({
      status: "fail",
      hint: /sysctl -w net\.ipv4\.ip_forward=1/,
    });
  });
  it.each([
    ["enabled", false, "ok"],
    ["disabled", false, "warn"],
    ["masked", false, "warn"],
    ["not-found", false, "warn"],
    ["disabled", true, "ok"],
  ])("timer %s (cron file: %s) -> %s", (state, cron, status) => {
    expect(judgeTimer(state, cron).status).toBe(status);
  });
});

describe("merging the nodes' findings", () => {
  const dead = fail("dns", "master m0: connection refused (udp)", "start it");
  it("a finding several nodes report is one line naming them; different ones stay apart", () => {
    const merged = dedupeFindings([
      { node: "pve1", findings: [ok("config", "c"), dead, warn("clock", "skewed", "chrony")] },
      { node: "pve2", findings: [ok("config", "c"), dead, ok("clock", "fine")] },
    ]);
    expect(merged.map((f) => [f.status, f.message, f.nodes])).toEqual([
      ["ok", "pve1, pve2: c", ["pve1", "pve2"]],
      ["fail", "pve1, pve2: master m0: connection refused (udp)", ["pve1", "pve2"]],
      ["warn", "pve1: skewed", ["pve1"]],
      ["ok", "pve2: fine", ["pve2"]],
    ]);
  });
  it("a message that already names its node is not prefixed twice", () => {
    const f = dedupeFindings([{ node: "pve2", findings: [ok("hookscript-file", "pve2: file runs")] }]);
    expect(f[0]?.message).toBe("pve2: file runs");
  });
  it("versions: one ok when equal, one warning naming who runs what when not", () => {
    expect(
      judgeVersions([
        { node: "pve1", findings: [], version: "1.2.0" },
        { node: "pve2", findings: [], version: "1.2.0" },
      ]),
    ).toEqual([ok("version", "pvemigrate-dns 1.2.0 on every node that answered (pve1, pve2)")]);
    const f = judgeVersions([
      { node: "pve1", findings: [], version: "1.2.0" },
      { node: "pve2", findings: [], version: "1.1.0" },
      { node: "pve3", findings: [], version: "1.2.0" },
    ]);
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({
      status: "warn",
      message: "nodes run different versions of pvemigrate-dns: 1.2.0 on pve1, pve3; 1.1.0 on pve2",
    });
  });
});
