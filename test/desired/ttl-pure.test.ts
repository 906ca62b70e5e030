import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../lib/config/load.ts";
import { formatProblem } from "../../lib/config/normalize.ts";
import type { Config } from "../../lib/config/types.ts";
import { computeDesired, type Departure, type VmPlacement } from "../../lib/desired/compute.ts";
import {
  dnsTtlFor,
  graceEndsAt,
  graceMsFor,
  moveEndsAt,
  moveGraceSeconds,
  type PlannedMove,
  waitBeforeMoveSeconds,
} from "../../lib/desired/ttl.ts";
import { ttlSteps, waitRefusal } from "../../lib/orchestrate/ttl-move.ts";
import { baseDoc, type Fixture, makeFixture } from "../config/fixture.ts";

// The TTL choreography of a planned move as desired state: the names' TTL is
// dns.moveTtl from the lowering until the old node's grace is over (or the
// planned move expires without the VM leaving), and that grace lasts at
// least the old TTL plus the propagation allowance, whatever graceSeconds says.

let fx: Fixture;
let config: Config;
beforeAll(async () => {
  fx = makeFixture();
  const doc = baseDoc();
  doc.dns.ttl = 300;
  doc.dns.moveTtl = 10;
  doc.dns.propagation = { waitSeconds: 20 };
  doc.graceSeconds = 60;
  ({ config } = await loadConfig(fx.write(doc)));
});
afterAll(() => fx.cleanup());

const T0 = 1_800_000_000_000;
const s = (seconds: number) => seconds * 1000;
const move: PlannedMove = {
  vmid: 101,
  from: "pve1",
  to: "pve2",
  oldTtl: 300,
  moveTtl: 10,
  loweredAt: T0,
  expiresAt: T0 + s(3600),
};
// Left pve1 after the wait (300 s + 20 s propagation); every server agreed at once.
const left: Departure = {
  vmid: 101,
  node: "pve1",
  ip: "10.10.1.101",
  leftAt: T0 + s(320),
  agreedAt: T0 + s(320),
};
const onPve2: VmPlacement = { vmid: 101, node: "pve2", status: "running", ip: "10.10.1.101" };

describe("the desired TTL of a VM's names", () => {
  it("is dns.ttl with no planned move, and for another VM", () => {
    expect(dnsTtlFor(config, 101, [], [], T0)).toBe(300);
    expect(dnsTtlFor(config, 102, [move], [], T0 + s(1))).toBe(300);
  });

  it("is moveTtl from the lowering until the old node's grace is over, then dns.ttl again", () => {
    expect(dnsTtlFor(config, 101, [move], [], T0 - 1)).toBe(300);
    expect(dnsTtlFor(config, 101, [move], [], T0)).toBe(10);
    // Grace: max(graceSeconds 60, old TTL 300 + propagation 20) = 320 s after leaving.
    expect(moveEndsAt(config, move, [left], [move])).toBe(left.leftAt + s(320));
    expect(dnsTtlFor(config, 101, [move], [left], left.leftAt + s(319))).toBe(10);
    expect(dnsTtlFor(config, 101, [move], [left], left.leftAt + s(320))).toBe(300);
  });

  it("goes back at the planned move's expiry when the VM never left (a crash after lowering)", () => {
    expect(dnsTtlFor(config, 101, [move], [], move.expiresAt - 1)).toBe(10);
    expect(dnsTtlFor(config, 101, [move], [], move.expiresAt)).toBe(300);
    // A departure from an earlier stay (before the lowering) does not end it.
    const earlier = { ...left, leftAt: T0 - s(5) };
    expect(moveEndsAt(config, move, [earlier], [move])).toBe(move.expiresAt);
  });

  it("is part of computeDesired's DNS entries", () => {
    const during = computeDesired(config, [onPve2], [left], left.leftAt + s(1), [move]);
    expect(during.dns).toEqual([
      { vmid: 101, name: "mail.example.org", a: ["198.51.100.20"], aaaa: [], ttl: 10 },
    ]);
    const after = computeDesired(config, [onPve2], [left], left.leftAt + s(321), [move]);
    expect(after.dns[0]?.ttl).toBe(300);
  });
});

describe("the old node's grace after a planned move", () => {
  it("lasts at least the old TTL plus propagation, whatever graceSeconds says; unplanned moves keep graceSeconds", () => {
    expect(graceMsFor(config, left, [move])).toBe(s(320));
    expect(graceMsFor(config, left, [])).toBe(s(60));
    const shortTtl = { ...move, oldTtl: 15 };
    expect(graceMsFor(config, left, [shortTtl])).toBe(s(60));
  });

  it("holds the grace forwards that long (nft elements get the end as graceUntil)", () => {
    const at = left.leftAt + s(100);
    const planned = computeDesired(config, [onPve2], [left], at, [move]);
    expect(planned.nodes.pve1?.forwards.map((f) => f.graceUntil)).toEqual([
      left.leftAt + s(320),
      left.leftAt + s(320),
    ]);
    // Without the planned move the same departure's grace ends once dns.ttl (300 s) ran out after agreement.
    const unplanned = computeDesired(config, [onPve2], [left], at).nodes.pve1?.forwards;
    expect(unplanned?.map((f) => f.graceUntil)).toEqual([left.leftAt + s(300), left.leftAt + s(300)]);
  });
});

describe("grace ends only once every server agrees and the TTL of the last old answer ran out", () => {
  const unplanned: Departure = { vmid: 101, node: "pve1", ip: "10.10.1.101", leftAt: T0 };
  // graceSeconds 60, dns.ttl 300, graceMaxSeconds 3600 (the default); after the planned move moveTtl 10.
  it.each([
    [
      "agreed at once, unplanned: the timer or agreement + dns.ttl, whichever is later",
      { agreedAt: T0 },
      [],
      T0 + s(300),
    ],
    ["agreed late, unplanned: agreement + dns.ttl", { agreedAt: T0 + s(100) }, [], T0 + s(400)],
    ["not checked yet: the timer", {}, [], T0 + s(60)],
    [
      "a server seen lagging, none agreeing since: graceMaxSeconds",
      { laggingAt: T0 + s(5) },
      [],
      T0 + s(3600),
    ],
    [
      "lagging, then agreeing: agreement + dns.ttl",
      { laggingAt: T0 + s(5), agreedAt: T0 + s(90) },
      [],
      T0 + s(390),
    ],
    ["agreement after graceMaxSeconds: graceMaxSeconds", { agreedAt: T0 + s(3590) }, [], T0 + s(3600)],
  ] as const)("%s", (_what, extra, moves, end) => {
    expect(graceEndsAt(config, { ...unplanned, ...extra }, moves)).toBe(end);
  });

  it("after a planned move the last old answer carried moveTtl: the timer (old TTL + propagation) is the end when they agree early", () => {
    expect(graceEndsAt(config, left, [move])).toBe(left.leftAt + s(320));
    const late = { ...left, agreedAt: left.leftAt + s(315) };
    expect(graceEndsAt(config, late, [move])).toBe(left.leftAt + s(325));
  });

  it("graceSeconds 0 without a planned move stays no grace at all, agreeing or not", async () => {
    const doc = baseDoc();
    doc.graceSeconds = 0;
    const { config: none } = await loadConfig(fx.write(doc, "nograce.yaml"));
    expect(graceEndsAt(none, unplanned, [])).toBe(T0);
  });

  it("a departure with a server seen lagging keeps its grace forwards past graceSeconds (computeDesired)", () => {
    const at = T0 + s(200);
    const lagging = { ...unplanned, laggingAt: T0 + s(1) };
    const waiting = computeDesired(config, [onPve2], [lagging], at).nodes.pve1?.forwards ?? [];
    expect(waiting.map((f) => f.graceUntil)).toEqual([T0 + s(3600), T0 + s(3600)]);
    const agreed = computeDesired(config, [onPve2], [{ ...unplanned, agreedAt: T0 }], at).nodes.pve1;
    expect(agreed?.forwards.map((f) => f.graceUntil)).toEqual([T0 + s(300), T0 + s(300)]);
  });
});

describe("waiting out the old TTL", () => {
  it("waits the old TTL plus propagation, nothing when the names are not cached longer than moveTtl", () => {
    expect(waitBeforeMoveSeconds(config, 300)).toBe(320);
    expect(waitBeforeMoveSeconds(config, 10)).toBe(0);
    expect(waitBeforeMoveSeconds(config, undefined)).toBe(0);
  });

  const plan = (oldTtl: number) => ({
    names: ["mail.example.org"],
    oldTtl,
    moveTtl: 10,
    restoreTtl: 300,
    waitSeconds: waitBeforeMoveSeconds(config, oldTtl),
    graceSeconds: moveGraceSeconds(config, oldTtl),
  });

  it("refuses a wait over 5 minutes unless --no-wait, saying how long it would take", () => {
    expect(waitRefusal(plan(3600), false)).toMatch(
      /^--no-wait: the names are served with a TTL of 3600 s; waiting it out would take 1h 0m 20s/,
    );
    expect(waitRefusal(plan(3600), true)).toBeUndefined();
    expect(waitRefusal(plan(280), false)).toBeUndefined();
  });

  it("dry-run steps: lower, wait (or not), migrate, grace, restore", () => {
    expect(ttlSteps(config, { from: "pve1", to: "pve2" }, plan(60), false)).toEqual([
      "lower the TTL of mail.example.org to 10 s (served now with 60 s)",
      "wait 80 s (old TTL 60 s + dns.propagation.waitSeconds 20 s) so no resolver still holds the old TTL",
      "migrate pve1 -> pve2",
      "pve1 grace-forwards for 80 s (graceSeconds 60, at least old TTL 60 s + dns.propagation.waitSeconds 20 s)",
      "then the TTL goes back to 300 s (the next DNS sync or reconcile after the grace period)",
    ]);
    expect(ttlSteps(config, { from: "pve1", to: "pve2" }, plan(3600), false)[1]).toBe(
      "waiting would take 1h 0m 20s (old TTL 3600 s + dns.propagation.waitSeconds 20 s): run with --no-wait",
    );
    expect(ttlSteps(config, { from: "pve1", to: "pve2" }, plan(60), true)[1]).toMatch(
      /^no wait \(--no-wait\)/,
    );
  });
});

describe("config", () => {
  it("dns.moveTtl defaults to 30 s", async () => {
    const { config: defaults } = await loadConfig(fx.write(baseDoc(), "defaults.yaml"));
    expect(defaults.dns.moveTtl).toBe(30);
  });

  it("dns.moveTtl defaults to dns.ttl when that is lower; set above it, it is refused, naming the field", async () => {
    const doc = baseDoc();
    doc.dns.ttl = 20;
    const { config: low } = await loadConfig(fx.write(doc, "low.yaml"));
    expect(low.dns.moveTtl).toBe(20);
    doc.dns.moveTtl = 30;
    const err = await loadConfig(fx.write(doc, "above.yaml")).catch((e: unknown) => e);
    if (!(err instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(err)}`);
    expect(err.problems.map(formatProblem)).toEqual(["dns.moveTtl: 30 is more than dns.ttl (20)"]);
  });
});
