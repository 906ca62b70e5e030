import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { discoverIp } from "../../lib/cluster/discover.ts";
import { getSnapshot } from "../../lib/cluster/snapshot.ts";
import { netnsExec, run, runChecked } from "../../lib/process/run.ts";
import { type SimCluster, startSimCluster } from "../../lib/sim/cluster.ts";
import { missing } from "../support/requirements.ts";
import { simClient } from "./helpers.ts";

// `ip: mac`: the VM's MAC (from its netN in the simulated cluster) looked up in
// the real neighbour table of a network namespace standing in for the node.

const NS = `pvm-neigh-${process.pid}`;

describe.skipIf(missing({ root: true, bins: ["ip"] }))(
  "IP discovery by MAC in the node's neighbour table",
  () => {
    let sim: SimCluster;
    beforeAll(async () => {
      sim = await startSimCluster({
        nodes: 2,
        vms: [
          { vmid: 101, node: "pve1" },
          { vmid: 102, node: "pve2" },
        ],
      });
      await runChecked(["ip", "netns", "add", NS]);
      const ip = (...args: string[]) => runChecked(["ip", "-n", NS, ...args]);
      await ip("link", "add", "vmbr1", "type", "veth", "peer", "name", "vmbr1p");
      await ip("link", "set", "vmbr1", "up");
      await ip("link", "set", "vmbr1p", "up");
      await ip("addr", "add", "10.10.0.1/16", "dev", "vmbr1");
      // The sim gives VM 101 the MAC BC:24:11:00:00:65 (vmid in hex).
      await ip(
        "neigh",
        "add",
        "10.10.1.101",
        "lladdr",
        "bc:24:11:00:00:65",
        "dev",
        "vmbr1",
        "nud",
        "permanent",
      );
      await ip(
        "neigh",
        "add",
        "10.10.1.77",
        "lladdr",
        "bc:24:11:00:00:99",
        "dev",
        "vmbr1",
        "nud",
        "permanent",
      );
    });
    afterAll(async () => {
      await sim?.stop();
      await run(["ip", "netns", "del", NS]);
    });

    it("finds the address whose neighbour entry has the VM's MAC", async () => {
      const client = simClient([sim.url]);
      const snap = await getSnapshot(client);
      const vm = snap.vms.find((v) => v.vmid === 101)!;
      const opts = { vmNetwork: "10.10.0.0/16", leasesFile: "/nonexistent", exec: netnsExec(NS) };
      expect(await discoverIp(client, vm, { ip: { kind: "mac" } }, opts)).toBe("10.10.1.101");
      const other = snap.vms.find((v) => v.vmid === 102)!;
      await expect(discoverIp(client, other, { ip: { kind: "mac" } }, opts)).rejects.toThrow(
        "VM 102 (ip: mac): no neighbour entry in 10.10.0.0/16 for MAC bc:24:11:00:00:66",
      );
    });
  },
);
