import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunSnapshot, type TakenLock } from "../../lib/cluster/run-snapshot.ts";
import { type SimCluster, startSimCluster } from "../../lib/sim/cluster.ts";
import type { LockStamp } from "../../lib/state/lock-stamp.ts";
import { simClient } from "./helpers.ts";

// One look at the cluster per run (lib/cluster/run-snapshot.ts): the steps of
// a run share one read, a step that took a lock after it began reads again,
// and nothing a step does to the snapshot reaches the others.

let sim: SimCluster;
beforeAll(async () => {
  sim = await startSimCluster({
    vms: [
      { vmid: 101, node: "pve1", tags: ["pvemigrate-dns"], config: { description: "dns: [a.example.org]" } },
      { vmid: 102, node: "pve2" },
    ],
    rrdIntervalMs: 0,
  });
});
afterAll(() => sim?.stop());

/** The "dns" lock as a step took it at `at`, finding `previous` (LockLease.previous). */
const taken = (at: number, previous: LockStamp | undefined): TakenLock => ({
  key: "cluster:dns",
  at,
  previous,
});

/** Requests the sim answered since `from` that read the whole cluster (/cluster/resources). */
const resourceReads = (from: number) =>
  sim.requests.slice(from).filter((r) => r.method === "GET" && r.path === "/api2/json/cluster/resources")
    .length;

describe("a run's snapshot", () => {
  it("is read once for all the steps of a run, concurrent ones included", async () => {
    const from = sim.requests.length;
    const run = new RunSnapshot(simClient([sim.url]));
    const [a, b] = await Promise.all([run.get(), run.get()]);
    const c = await run.get();
    expect(a).toBe(b);
    expect(c).toBe(a);
    expect(a.vms.map((v) => [v.vmid, v.node])).toEqual([
      [101, "pve1"],
      [102, "pve2"],
    ]);
    expect(resourceReads(from)).toBe(1);
    expect(run.reads).toBe(1);
  });

  it("is read again for a step that got its lock after the read began, and then shared from there", async () => {
    let clock = 1000;
    const run = new RunSnapshot(simClient([sim.url]), { now: () => clock });
    const first = await run.get();
    sim.moveVm(102, "pve3");
    clock = 2000; // the step took its lock now: a writer may have acted in between
    const from = sim.requests.length;
    const locked = await run.get({ lock: taken(2000, undefined) });
    expect(resourceReads(from)).toBe(1);
    expect(locked.vms.find((v) => v.vmid === 102)?.node).toBe("pve3");
    expect(first.vms.find((v) => v.vmid === 102)?.node).toBe("pve2");
    // A lock taken before this read began is satisfied by it.
    expect(await run.get({ lock: taken(1500, undefined) })).toBe(locked);
    expect(await run.get()).toBe(locked);
    expect(run.reads).toBe(2);
    sim.moveVm(102, "pve2");
  });

  it("serves a step whose lock nobody held since the stamps read before it: one read for the run", async () => {
    let clock = 1000;
    const stamps = new Map<string, LockStamp | undefined>([["cluster:dns", { gen: 7, released: true }]]);
    const run = new RunSnapshot(simClient([sim.url]), {
      now: () => clock,
      marks: async () => new Map(stamps),
    });
    const first = await run.get();
    clock = 2000;
    // The step took the lock after the read began, and found it as the read's stamps left it.
    expect(await run.get({ lock: taken(2000, { gen: 7, released: true }) })).toBe(first);
    expect(run.reads).toBe(1);
  });

  it("is read again for a step whose lock someone took and released since the stamps were read", async () => {
    let clock = 1000;
    const stamps = new Map<string, LockStamp | undefined>([["cluster:dns", { gen: 7, released: true }]]);
    const run = new RunSnapshot(simClient([sim.url]), {
      now: () => clock,
      marks: async () => new Map(stamps),
    });
    const first = await run.get();
    // A hook's worker on another node switched VM 102 under the lock meanwhile (generation 8).
    sim.moveVm(102, "pve3");
    clock = 2000;
    const locked = await run.get({ lock: taken(2000, { gen: 8, released: true }) });
    expect(locked).not.toBe(first);
    expect(locked.vms.find((v) => v.vmid === 102)?.node).toBe("pve3");
    sim.moveVm(102, "pve2");
  });

  it.each([
    ["the lock was held when the stamps were read", { gen: 7, released: false }, { gen: 7, released: false }],
    ["its holder died holding it", { gen: 7, released: true }, { gen: 8, released: false }],
    ["the stamp was unknown before the read", undefined, { gen: 7, released: true }],
    ["the stamp is unknown on taking the lock", { gen: 7, released: true }, undefined],
  ])("is read again when %s", async (_why, before, found) => {
    let clock = 1000;
    const run = new RunSnapshot(simClient([sim.url]), {
      now: () => clock,
      marks: async () => new Map([["cluster:dns", before]]),
    });
    const first = await run.get();
    clock = 2000;
    expect(await run.get({ lock: taken(2000, found) })).not.toBe(first);
    expect(run.reads).toBe(2);
  });

  it("is not kept when its read failed: the next step asks the API again", async () => {
    const run = new RunSnapshot(simClient([sim.url]));
    sim.injectFault({
      method: "GET",
      path: /^\/api2\/json\/cluster\/resources$/,
      status: 500,
      reason: "Internal error",
    });
    await expect(run.get()).rejects.toThrow(/500|Internal error/);
    const again = await run.get();
    expect(again.vms).toHaveLength(2);
    expect(run.reads).toBe(2);
  });

  it("is frozen: no step can change what the others see", async () => {
    const run = new RunSnapshot(simClient([sim.url]));
    const snap = await run.get();
    const vm = snap.vms[0]!;
    expect(() => Object.assign(vm, { node: "pve9" })).toThrow(TypeError);
    expect(() => vm.tags.push("x")).toThrow(TypeError);
    expect(() => snap.vms.pop()).toThrow(TypeError);
    expect((await run.get()).vms[0]?.node).toBe("pve1");
  });

  it("reads a tagged guest's Notes once per snapshot, and again with a new snapshot", async () => {
    let clock = 1000;
    const run = new RunSnapshot(simClient([sim.url]), { now: () => clock });
    const notesReads = (from: number) =>
      sim.requests.slice(from).filter((r) => r.path === "/api2/json/nodes/pve1/qemu/101/config").length;
    const from = sim.requests.length;
    expect(await run.descriptions([101])).toEqual(new Map([[101, "dns: [a.example.org]"]]));
    expect(await run.descriptions([101])).toEqual(new Map([[101, "dns: [a.example.org]"]]));
    expect(notesReads(from)).toBe(1);
    clock = 2000;
    await run.descriptions([101], { lock: taken(2000, undefined) });
    expect(notesReads(from)).toBe(2);
  });

  it("after invalidate(), reads the cluster again", async () => {
    const run = new RunSnapshot(simClient([sim.url]));
    const first = await run.get();
    run.invalidate();
    expect(await run.get()).not.toBe(first);
    expect(run.reads).toBe(2);
  });
});
