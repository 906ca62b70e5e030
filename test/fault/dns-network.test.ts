import { expect, it } from "vitest";
import { dnsCluster, expectConverged, ROW_TIMEOUT_MS, RUNS, runRow } from "./harness-run.ts";
import { faultSuite } from "./suite.ts";

// Fault matrix, network rows: 30 % of the packets between the nodes and both
// masters are lost (each direction, so an update may land and its answer
// vanish); and both masters answer updates late, after they applied them
// (1.5 s, three times dns.timeoutMs): the switch must find out by reading
// back, and must never report such an update as "nothing changed".

faultSuite("fault matrix: packet loss and late replies", dnsCluster(), (cluster) => {
  it(
    "30 % packet loss to the masters: every run converges, nothing lost or clobbered",
    async () => {
      const result = await runRow(cluster(), {
        fault: "30 % packet loss to the masters",
        runs: RUNS,
        inject: (x) => x.dns.loss(30, ["primary", "secondary"]),
      });
      expectConverged(result);
    },
    ROW_TIMEOUT_MS,
  );

  it(
    "both masters answer updates after applying them: verified by read-back, never 'nothing changed'",
    async () => {
      const result = await runRow(cluster(), {
        fault: "both masters slow, replies after the update applied",
        runs: RUNS,
        inject: (x) => x.dns.slow(1500, ["primary", "secondary"], "updates"),
        async during(x, t) {
          // The update landed while its answer was still on the way ...
          expect(await x.dns.answers("primary", "mail.example.org", "A")).toEqual([x.c.publicIp(t.to)]);
          // ... and the switch says so: confirmed by a read-back, or at worst "may have been applied".
          expect(t.workerLog, t.workerLog).toMatch(/read back at [^\n]*: applied|may have been applied/);
          expect(t.workerLog, t.workerLog).not.toMatch(/nothing was changed|unchanged/);
        },
      });
      expectConverged(result);
    },
    ROW_TIMEOUT_MS,
  );
});
