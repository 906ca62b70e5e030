import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type SimCluster, type SimClusterOptions, startSimCluster } from "../../lib/sim/cluster.ts";
import { baseDoc, type Doc, type Fixture, makeFixture } from "../config/fixture.ts";

// The base config of test/config/fixture.ts pointed at a running simulated
// Proxmox API of pve1 and pve2 (its token secret in a file of its own, mode
// 600): for tests that run real lib code against the sim through the config
// an admin would write. Each test changes `doc` and writes it with fx.write.

export interface SimFixture {
  fx: Fixture;
  sim: SimCluster;
  doc: Doc;
  /** Stops the sim and removes the fixture's dir. */
  stop(): Promise<void>;
}

export async function startSimFixture(vms: NonNullable<SimClusterOptions["vms"]>): Promise<SimFixture> {
  const fx = makeFixture();
  const sim = await startSimCluster({ nodes: ["pve1", "pve2"], vms });
  writeFileSync(join(fx.dir, "sim-token"), `${sim.tokenSecret}\n`, { mode: 0o600 });
  const doc = baseDoc();
  doc.proxmox = { endpoints: [sim.url], tokenId: sim.tokenId, tokenSecretFile: "sim-token" };
  return {
    fx,
    sim,
    doc,
    stop: async () => {
      await sim.stop();
      fx.cleanup();
    },
  };
}
