import { expect, it } from "vitest";
import { waitFor } from "../e2e/netns-world.ts";
import {
  faultRuns,
  liveMigrate,
  nodeCluster,
  other,
  pendingWork,
  runRow,
  settle,
  vmNode,
} from "./harness-node.ts";
import { faultSuite } from "./suite.ts";

// Fault matrix row: the old node becomes unreachable (public link down, its
// API endpoint gone, ssh to it failing) while a live migration away from it
// is in its memory transfer; the worker's switch and a reconcile run while it
// is away, then it comes back and the reconciles clean it up.
// (netns-failures.test.ts covers an HA recovery with the old node dead.)

faultSuite("fault matrix: the old node unreachable, and back", nodeCluster(), (cluster) => {
  it("the old node unreachable during a live migration, and back: the target serves at once, the old node is cleaned on return", async () => {
    const c = cluster();
    await runRow("old node unreachable, and back", faultRuns(1), async () => {
      const from = vmNode(c);
      const to = other(from);
      await liveMigrate(c, to, { whileHeld: () => c.nodeDown(from) });
      try {
        await waitFor(`the old node's step journaled`, async () =>
          (await pendingWork(c)).some((id) => id.endsWith(`node:${from}`)),
        );
        // Meanwhile the target serves and the name points at it.
        await waitFor("the name at the target", async () => (await c.dnsA()).join() === c.publicIp(to));
        expect(await c.tcp(to)).toMatchObject({ ok: true });
        const meanwhile = await c.cli(to, ["reconcile", "--json"]);
        expect(meanwhile.code, meanwhile.stderr).toBe(3);
      } finally {
        await c.nodeUp(from);
      }
      return settle(c, to, Date.now());
    });
  }, 120_000);
});
