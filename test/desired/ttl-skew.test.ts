import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config/load.ts";
import type { Config } from "../../lib/config/types.ts";
import { computeDesired, type Departure } from "../../lib/desired/compute.ts";
import { graceEndsAt, onReaderClock, type PlannedMove } from "../../lib/desired/ttl.ts";
import { confirmAgreement } from "../../lib/orchestrate/grace-agreement.ts";
import type { World } from "../../lib/orchestrate/observe.ts";
import type { Runtime } from "../../lib/orchestrate/runtime.ts";
import { DepartureStore } from "../../lib/state/departures.ts";
import { baseDoc, type Fixture, makeFixture } from "../config/fixture.ts";

// A node whose clock is ahead stamps a departure in the old node's future.
// Grace is counted on the old node's clock (it enforces it): a stamp from
// its future counts from when it reads it, and that is written down, so the
// skew never lengthens grace (lib/desired/ttl.ts onReaderClock).

let fx: Fixture;
let config: Config;
beforeAll(async () => {
  fx = makeFixture();
  const doc = baseDoc();
  doc.graceSeconds = 60;
  doc.dns.ttl = 300;
  doc.dns.moveTtl = 10;
  doc.dns.propagation = { waitSeconds: 20 };
  ({ config } = await loadConfig(fx.write(doc)));
});
afterAll(() => fx.cleanup());

const NOW = 1_800_000_000_000;
const s = (seconds: number) => seconds * 1000;
const dep = (extra: Partial<Departure>): Departure => ({
  vmid: 101,
  node: "pve1",
  ip: "10.10.1.101",
  leftAt: NOW,
  ...extra,
});
// Planned on the skewed node too: lowered 30 s "ahead", left after the 320 s wait.
const move: PlannedMove = {
  vmid: 101,
  from: "pve1",
  to: "pve2",
  oldTtl: 300,
  moveTtl: 10,
  loweredAt: NOW + s(30) - s(320),
  expiresAt: NOW + s(3600),
};

describe("grace read on the old node's clock (graceEndsAt with now)", () => {
  // graceSeconds 60, dns.ttl 300, graceMaxSeconds 3600; read at NOW by the old node.
  it.each([
    ["stamped on time, never checked: the timer", dep({ leftAt: NOW - s(10) }), [], NOW + s(50)],
    [
      "stamped 30 s ahead, never checked: 60 s from now, not 90",
      dep({ leftAt: NOW + s(30) }),
      [],
      NOW + s(60),
    ],
    [
      "stamped and agreed 30 s ahead: agreement counted now, + dns.ttl",
      dep({ leftAt: NOW + s(30), agreedAt: NOW + s(30) }),
      [],
      NOW + s(300),
    ],
    [
      "stamped an hour ahead, a server lagging: graceMaxSeconds from now, not from the stamp",
      dep({ leftAt: NOW + s(3600), laggingAt: NOW + s(3600) }),
      [],
      NOW + s(3600),
    ],
    [
      "a planned move stamped 30 s ahead: still the move's grace (old TTL + propagation), from now",
      dep({ leftAt: NOW + s(30) }),
      [move],
      NOW + s(320),
    ],
    [
      "stamped behind (cannot be told from an earlier departure): as written",
      dep({ leftAt: NOW - s(59) }),
      [],
      NOW + s(1),
    ],
  ] as const)("%s", (_what, d, moves, end) => {
    expect(graceEndsAt(config, d, moves, NOW)).toBe(end);
  });

  it("the forwards computeDesired gives the old node end 60 s from now, not at the skewed stamp + 60 s", () => {
    const desired = computeDesired(
      config,
      [{ vmid: 101, node: "pve2", status: "running", ip: "10.10.1.101" }],
      [dep({ leftAt: NOW + s(30) })],
      NOW,
    );
    const ends = desired.nodes.pve1?.forwards.map((f) => f.graceUntil) ?? [];
    expect(ends.length).toBeGreaterThan(0);
    expect(new Set(ends)).toEqual(new Set([NOW + s(60)]));
  });

  it("onReaderClock leaves a record with no stamp in the future untouched (the same object)", () => {
    const d = dep({ leftAt: NOW - 1, agreedAt: NOW });
    expect(onReaderClock(d, NOW)).toBe(d);
    expect(onReaderClock(dep({ agreedAt: NOW + 5 }), NOW)).toEqual(dep({ leftAt: NOW, agreedAt: NOW }));
  });
});

describe("the old node writes the clamped stamp down, so later runs count from its first sight", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pvemigrate-skew-"));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it("stamped 30 s ahead, first read at NOW: grace still ends at NOW + 60 s when read after the stamp", async () => {
    const store = new DepartureStore(join(dir, "departures"), () => {});
    await store.add(dep({ leftAt: NOW + s(30) }));
    const runAt = async (now: number) => {
      const rt = { self: "pve1", now: () => now, departures: store } as unknown as Runtime;
      const world = { config, placements: [], departures: await store.list(), moves: [] } as unknown as World;
      return confirmAgreement(rt, world);
    };
    const lines = await runAt(NOW);
    expect(lines).toEqual([
      "departure of VM 101 was stamped 30 s ahead of this node's clock: its grace counts from now (check the nodes' time sync)",
    ]);
    // Later, past the skewed stamp: the record says NOW, and nothing is rewritten again.
    const later = NOW + s(45);
    const [recorded] = await store.list();
    expect(recorded?.leftAt).toBe(NOW);
    expect(graceEndsAt(config, recorded!, [], later)).toBe(NOW + s(60));
    expect(await runAt(later)).toEqual([]);
  });
});
