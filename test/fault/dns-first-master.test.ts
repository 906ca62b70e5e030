import { expect, it } from "vitest";
import { dnsCluster, expectConverged, ROW_TIMEOUT_MS, RUNS, runRow } from "./harness-run.ts";
import { faultSuite } from "./suite.ts";

// Fault matrix, DNS rows: the first master candidate (the primary) fails the
// orchestrator while the secondary, which forwards updates to it, still
// reaches it. Silent: requests from the nodes vanish. Slow: each reply
// leaves it 2 s late, long after the update was applied (4x dns.timeoutMs),
// so the switch must learn by read-back that its update landed.

faultSuite("fault matrix: the first master silent or slow", dnsCluster(), (cluster) => {
  it(
    "first master silent: the switch fails over to the secondary; nothing lost or clobbered",
    async () => {
      const result = await runRow(cluster(), {
        fault: "first master silent",
        runs: RUNS,
        inject: (x) => x.dns.silent(["primary"]),
        async during(x, t) {
          // The update went through the secondary during the fault: nothing was left for later.
          expect(t.workerLog, t.workerLog).not.toMatch(/kept in the journal/);
          expect(await x.dns.answers("primary", "mail.example.org", "A")).toEqual([x.c.publicIp(t.to)]);
        },
      });
      expectConverged(result);
    },
    ROW_TIMEOUT_MS,
  );

  it(
    "first master slow (2 s): the late reply is settled by read-back, never taken for a failure",
    async () => {
      const result = await runRow(cluster(), {
        fault: "first master slow (2 s)",
        runs: RUNS,
        inject: (x) => x.dns.slow(2000, ["primary"]),
        async during(x, t) {
          expect(t.workerLog, t.workerLog).not.toMatch(/kept in the journal|nothing was changed/);
          expect(await x.dns.answers("secondary", "mail.example.org", "A")).toEqual([x.c.publicIp(t.to)]);
        },
      });
      expectConverged(result);
    },
    ROW_TIMEOUT_MS,
  );
});
