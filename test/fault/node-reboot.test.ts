import { it } from "vitest";
import { type NetnsCluster, NODES } from "../e2e/netns-world.ts";
import {
  addAdminTable,
  faultRuns,
  liveMigrate,
  nodeCluster,
  other,
  runRow,
  settle,
  vmNode,
} from "./harness-node.ts";
import { faultSuite } from "./suite.ts";

// Fault matrix rows: a node's nft ruleset flushed (nftables.service starting
// again: `flush ruleset`, then the admin's own tables) and HAProxy restarted
// (from its config and map files), on both nodes right as a hook-driven live
// migration ends, while the worker may be mid-switch. The reconciles must put
// back the target's forwards and routes and the old node's grace forwards,
// and leave the admin's table alone. (netns-failures.test.ts covers a flush
// and a restart without a migration, with plan and dry-run output.)

faultSuite("fault matrix: nft ruleset flushed, HAProxy restarted", nodeCluster(), (cluster) => {
  const rows = [
    [
      "nft ruleset flushed on both nodes",
      async (c: NetnsCluster) => {
        for (const n of NODES) {
          await c.world.sh(c.ns(n), ["nft", "flush", "ruleset"]);
          await addAdminTable(c, n);
        }
      },
    ],
    [
      "HAProxy restarted on both nodes",
      async (c: NetnsCluster) => Promise.all(NODES.map((n) => c.restartHaproxy(n))),
    ],
  ] as const;

  for (const [fault, inject] of rows) {
    it(`${fault} as a live migration ends: the reconciles restore forwards, routes and grace`, async () => {
      const c = cluster();
      await runRow(fault, faultRuns(1), async () => {
        const to = other(vmNode(c));
        await liveMigrate(c, to);
        await inject(c);
        const t0 = Date.now();
        const result = await settle(c, to, t0);
        // The old node forwards for the grace period again (graceSeconds 20 outlasts a run).
        const grace = await c.tcp(other(to));
        return grace.ok
          ? result
          : {
              ...result,
              lost: result.lost + 1,
              problems: [...result.problems, `grace forward on ${other(to)}`],
            };
      });
    }, 120_000);
  }
});
