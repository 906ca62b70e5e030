import { expect, it } from "vitest";
import { reconcile, reconcileExitCode } from "../../lib/orchestrate/reconcile.ts";
import { createRuntime } from "../../lib/orchestrate/runtime.ts";
import { switchVm } from "../../lib/orchestrate/switch.ts";
import { type NodeName, VM_NAME, VMID, waitFor } from "../e2e/netns-world.ts";
import { dnsCluster, expectConverged, ROW_TIMEOUT_MS, RUNS, runRow } from "./harness-run.ts";
import { faultSuite } from "./suite.ts";

// Fault matrix, the clock row: the node that switches has its clock an hour
// off, beyond TSIG's fudge, so the masters answer BADTIME. The skew is the
// node's own clock (the runtime's `now`, which signs TSIG), run in this
// process; once the clock is right again, the bundle's timers finish the job.

// BIND's TSIG fudge is 300 s: an hour is well outside it.
const SKEW_MS = 3600_000;

faultSuite("fault matrix: the node's clock skewed", dnsCluster(), (cluster) => {
  it(
    "the node's clock an hour off: BADTIME named, nothing applied, converges once the clock is right",
    async () => {
      const f = cluster();
      const logs: string[] = [];
      // The node itself is skewed: its runtime's clock signs TSIG (and stamps its journal).
      const skewed = (node: NodeName) =>
        createRuntime(f.c.h.loaded, { node, now: () => Date.now() + SKEW_MS, log: (l) => logs.push(l) });
      let serialBefore = "";
      const serial = async () => (await f.dns.answers("primary", "example.org", "SOA")).join().split(" ")[2];
      const result = await runRow(f, {
        fault: "client clock skewed beyond TSIG's fudge (BADTIME)",
        runs: RUNS,
        async inject() {
          serialBefore = (await serial()) ?? "";
        },
        // What the hook's worker does on the target (worker.ts perform): wait for the migration, switch.
        async migrate(x, from, to) {
          const vm = x.c.h.sim.state.vm(VMID);
          x.c.h.sim.migrate(VMID, to, { online: true });
          await waitFor("the sim to finish the migration", async () => vm.node === to && !vm.lock, 30_000);
          await x.c.world.moveVm("vm101", to);
          logs.length = 0;
          const report = await switchVm(skewed(to), VMID, { from });
          return `${JSON.stringify(report)}\n${logs.join("\n")}`;
        },
        async reconcile(_x, to) {
          logs.length = 0;
          const r = await reconcile(skewed(to));
          return { code: reconcileExitCode(r), stdout: JSON.stringify(r), stderr: logs.join("\n") };
        },
        async during(x, t) {
          expect(t.workerLog).toMatch(/TSIG BADTIME: clocks differ by -360\d s \(server behind\)/);
          expect(t.workerLog).toContain(`"pending":["dns:vm:${VMID}"]`);
          expect(t.reconcile.code, t.reconcile.stdout).toBe(3);
          expect(t.reconcile.stdout).toMatch(/BADTIME/);
          // Nothing applied: the zone's serial did not move, the name is where it was.
          expect(await serial()).toBe(serialBefore);
          expect(await x.dns.answers("primary", VM_NAME, "A")).toEqual([x.c.publicIp(t.from)]);
          expect(await x.c.tcp(t.to)).toMatchObject({ ok: true });
        },
        // The clock is fixed: the timer's next runs are the bundle's, on the right time.
        lift: async () => {},
      });
      expectConverged(result);
    },
    ROW_TIMEOUT_MS,
  );
});
