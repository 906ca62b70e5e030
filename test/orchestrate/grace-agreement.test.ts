import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config/load.ts";
import type { Config } from "../../lib/config/types.ts";
import type { Departure } from "../../lib/desired/compute.ts";
import { awaitingAgreement, expectationsFor } from "../../lib/orchestrate/grace-agreement.ts";
import { baseDoc, type Fixture, makeFixture } from "../config/fixture.ts";

// Which of a node's departures it still has to see agree (pure): its own,
// not seen agreeing, grace not over (the timer when never checked,
// graceMaxSeconds while a server lags).

let fx: Fixture;
let config: Config;
beforeAll(async () => {
  fx = makeFixture();
  const doc = baseDoc();
  doc.graceSeconds = 60;
  doc.dns.ttl = 30;
  ({ config } = await loadConfig(fx.write(doc)));
});
afterAll(() => fx.cleanup());

const T0 = 1_800_000_000_000;
const d = (extra: Partial<Departure> = {}): Departure => ({
  vmid: 101,
  node: "pve1",
  ip: "10.10.1.101",
  leftAt: T0,
  ...extra,
});

describe("departures awaiting agreement (grace-agreement.ts)", () => {
  it.each([
    ["within the timer, never checked: asked", d(), T0 + 59_000, true],
    ["past the timer, never checked: grace is over, nothing to ask", d(), T0 + 60_000, false],
    ["seen lagging, past the timer: asked again", d({ laggingAt: T0 + 1000 }), T0 + 600_000, true],
    ["seen agreeing: not asked again", d({ agreedAt: T0 + 1000 }), T0 + 30_000, false],
    ["another node's departure: that node asks", d({ node: "pve2" }), T0 + 30_000, false],
    [
      "lagging past graceMaxSeconds (3600 s): grace is over, nothing to ask",
      d({ laggingAt: T0 }),
      T0 + 3_600_000,
      false,
    ],
  ] as const)("%s", (_what, dep, now, asked) => {
    const world = { config, departures: [dep], moves: [] };
    expect(awaitingAgreement("pve1", world, now).length).toBe(asked ? 1 : 0);
  });

  it("expects the VM's names at the node it runs on now", () => {
    const world = {
      config,
      departures: [d()],
      moves: [],
      placements: [{ vmid: 101, node: "pve2", status: "running" as const, ip: "10.10.1.101" }],
    };
    const pve2 = config.nodes.pve2!.publicIPv4;
    expect(expectationsFor(101, world, T0 + 60_000)).toEqual(
      config.vms["101"]!.dns.map((name) => ({ name, expected: { a: [pve2], aaaa: [] } })),
    );
    expect(expectationsFor(999, world, T0 + 60_000)).toEqual([]);
  });
});
