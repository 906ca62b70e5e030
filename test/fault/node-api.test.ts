import { it } from "vitest";
import type { NetnsClusterOptions } from "../e2e/netns-world.ts";
import { faultRuns, liveMigrate, nodeCluster, other, runRow, settle, vmNode } from "./harness-node.ts";
import { faultSuite } from "./suite.ts";

// Fault matrix rows: the Proxmox API's first endpoint (pve1's pveproxy)
// answers 500 to everything, or accepts requests and never answers, for the
// whole run. Every process (hook worker, reconcile, `apply --local` on the
// old node) must fail over to the next endpoint for its reads
// (lib/cluster/client.ts) and end in the same state as without the fault.

const API_TIMEOUTS: NetnsClusterOptions = {
  config: (d) => {
    // A hung endpoint costs one request timeout per process before the next endpoint is tried.
    Object.assign(d.proxmox as Record<string, unknown>, { requestTimeoutMs: 1500 });
  },
};

faultSuite("fault matrix: the Proxmox API's first endpoint fails", nodeCluster(API_TIMEOUTS), (cluster) => {
  for (const [fault, hang] of [
    ["Proxmox API: first endpoint answers 500", false],
    ["Proxmox API: first endpoint times out", true],
  ] as const) {
    it(`${fault}: a live migration and the reconciles converge through the other endpoint`, async () => {
      const c = cluster();
      await runRow(fault, faultRuns(1), async () => {
        const to = other(vmNode(c));
        const first = Object.keys(c.h.sim.urls)[0]!;
        c.h.sim.injectFault({
          via: first,
          path: /./,
          status: 500,
          reason: "Internal Server Error",
          times: Number.POSITIVE_INFINITY,
          hang,
        });
        const t0 = Date.now();
        const before = c.h.sim.requests.length;
        try {
          await liveMigrate(c, to);
          const result = await settle(c, to, t0);
          // The fault was in the way: processes did ask the failing endpoint first.
          const hit = c.h.sim.requests.slice(before).filter((r) => r.via === first).length;
          return hit > 0
            ? result
            : { ...result, problems: [...result.problems, `no request reached ${first}`] };
        } finally {
          c.h.sim.clearFaults();
        }
      });
    }, 180_000);
  }
});
