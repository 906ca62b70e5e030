import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { missingConfiguredVms, missingVmWarning } from "../../lib/cluster/visibility.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { convergeNode } from "../../lib/orchestrate/converge.ts";
import { createRuntime, type Runtime } from "../../lib/orchestrate/runtime.ts";
import { haproxyMapPath } from "../../lib/proxy/haproxy-config.ts";
import type { SimCluster } from "../../lib/sim/cluster.ts";
import type { Fixture } from "../config/fixture.ts";
import { type SimFixture, startSimFixture } from "../support/sim-fixture.ts";

// /cluster/resources silently leaves out a guest the API token may not audit
// (pve-manager PVE/API2/Cluster.pm `resources`: `next if !$rpcenv->check(...
// "/vms/$vmid", ['VM.Audit'], 1)`). A configured VM missing from it is a
// warning naming the VM and the privilege, never a VM that is gone: its routes
// stay. The node's routes are real HAProxy map files (no HAProxy running).

describe("missingConfiguredVms (pure)", () => {
  const snap = { vms: [{ vmid: 101 }, { vmid: 205 }] as Array<{ vmid: number }> };
  it.each([
    { configured: ["101", "102", "205"], missing: [102] },
    { configured: [300, 101, 300], missing: [300] },
    { configured: [], missing: [] },
  ])("$configured against 101, 205 -> $missing", ({ configured, missing }) => {
    expect(missingConfiguredVms(configured, snap as never)).toEqual(missing);
  });

  it("names the VM and the privilege on its path", () => {
    expect(missingVmWarning(102)).toContain("VM 102 is configured but not in /cluster/resources");
    expect(missingVmWarning(102)).toContain("VM.Audit on /vms/102");
  });
});

describe("a configured VM the token cannot see", () => {
  let world: SimFixture;
  let fx: Fixture;
  let sim: SimCluster;
  let rt: Runtime;
  const logs: string[] = [];
  beforeAll(async () => {
    world = await startSimFixture([
      { vmid: 101, node: "pve1" },
      { vmid: 102, node: "pve1" },
    ]);
    ({ fx, sim } = world);
    const doc = world.doc;
    doc.vms["102"].sni = ["shop.example.org"];
    Object.assign(doc, {
      nat: { backend: "none" },
      // No HAProxy: the socket is absent, so the backend converges its map files only.
      proxy: { backend: "haproxy", socket: join(fx.dir, "no-haproxy.sock"), mapDir: join(fx.dir, "maps") },
      remote: { transport: "netns" },
      pveRoot: join(fx.dir, "pve"),
      stateDir: join(fx.dir, "state"),
    });
    rt = createRuntime(await loadConfig(fx.write(doc)), { node: "pve1", log: (l) => logs.push(l) });
  });
  afterAll(async () => world?.stop());

  const sniMap = () => readFileSync(haproxyMapPath(join(fx.dir, "maps"), "sni"), "utf8");

  it("keeps its routes on the node and warns naming the VM and VM.Audit on /vms/<id>", async () => {
    await convergeNode(rt, "pve1");
    expect(sniMap()).toContain("webmail.example.org 10.10.1.101:443");

    sim.state.access.hiddenVmids.add(101);
    logs.length = 0;
    const r = await convergeNode(rt, "pve1");
    expect(sniMap()).toContain("webmail.example.org 10.10.1.101:443");
    expect(sniMap()).toContain("shop.example.org 10.10.1.102:443");
    expect(r.changes).toEqual([]);
    expect(logs).toContain(missingVmWarning(101));
  });

  it("still drops the routes of a VM that really stopped (visible, not running)", async () => {
    sim.state.access.hiddenVmids.clear();
    sim.stopVm(101);
    // /cluster/resources shows the stop after pvestatd's next broadcast (the sim lags like Proxmox).
    sim.tickRrd();
    await convergeNode(rt, "pve1");
    expect(sniMap()).not.toContain("webmail.example.org");
  });
});
