import { expect, it } from "vitest";
import { VM_NAME } from "../e2e/netns-world.ts";
import { dnsCluster, expectConverged, ROW_TIMEOUT_MS, RUNS, runRow } from "./harness-run.ts";
import { faultSuite } from "./suite.ts";

// Fault matrix, DNS rows where no master can take the update for a while:
// both down (refusing), then back; the primary down behind the secondary that
// forwards to it (SERVFAIL). Forwards and routes follow the VM at once; the names'
// update is journaled, nothing half-applied, and the next timer finishes it.

faultSuite("fault matrix: masters unusable, then back", dnsCluster(), (cluster) => {
  it(
    "both masters down, then back: DNS journaled (nothing changed, exit 3), finished once they answer",
    async () => {
      const result = await runRow(cluster(), {
        fault: "both masters down, then back",
        runs: RUNS,
        inject: (x) => x.dns.down(["primary", "secondary"]),
        async during(x, t) {
          expect(t.workerLog).toMatch(
            /dns:vm:101: [^\n]*all 2 DNS master candidate\(s\) failed, nothing was changed/,
          );
          expect(t.reconcile.code, t.reconcile.stderr).toBe(3);
          expect(await x.dns.answers("primary", VM_NAME, "A")).toEqual([x.c.publicIp(t.from)]);
          expect(await x.c.tcp(t.to)).toMatchObject({ ok: true }); // forwards did not wait for DNS
        },
      });
      expectConverged(result);
    },
    ROW_TIMEOUT_MS,
  );

  it(
    "primary down behind a forwarding secondary: its SERVFAIL is not success; journaled, finished later",
    async () => {
      const result = await runRow(cluster(), {
        fault: "primary down behind a forwarding secondary (SERVFAIL)",
        runs: RUNS,
        inject: (x) => x.dns.down(["primary"]),
        async during(x, t) {
          expect(t.workerLog).toMatch(/SERVFAIL/);
          expect(t.workerLog).toMatch(/dns:vm:101: [^\n]*kept in the journal|\(kept in the journal\)/);
          expect(t.reconcile.code, t.reconcile.stderr).toBe(3);
          expect(await x.dns.answers("secondary", VM_NAME, "A")).toEqual([x.c.publicIp(t.from)]);
        },
      });
      expectConverged(result);
    },
    ROW_TIMEOUT_MS,
  );
});
