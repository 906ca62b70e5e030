import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VM_NAME } from "../e2e/netns-world.ts";
import { missing } from "../support/requirements.ts";
import { type FaultCluster, NEEDS, ROW_TIMEOUT_MS, RUNS, runRow, startFaultCluster } from "./harness-run.ts";

// Fault matrix, DNS rows where no master can take the update for a while:
// both down (refusing), then back; the primary down behind the secondary that
// forwards to it (SERVFAIL). Forwards and routes follow the VM at once; the names'
// update is journaled, nothing half-applied, and the next timer finishes it.

describe.skipIf(missing(NEEDS))("fault matrix: masters unusable, then back", () => {
  let f: FaultCluster;
  beforeAll(async () => {
    f = await startFaultCluster();
  }, 120_000);
  afterAll(async () => f?.stop(), 60_000);

  const finalOk = (traces: Awaited<ReturnType<typeof runRow>>["traces"]) => {
    for (const t of traces)
      expect(t.final, `${t.from} -> ${t.to}\n${t.workerLog}`).toEqual({ lost: [], clobbered: [] });
  };

  it(
    "both masters down, then back: DNS journaled (nothing changed, exit 3), finished once they answer",
    async () => {
      const { row, traces } = await runRow(f, {
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
      finalOk(traces);
      expect(row.runs.every((r) => r.converged)).toBe(true);
    },
    ROW_TIMEOUT_MS,
  );

  it(
    "primary down behind a forwarding secondary: its SERVFAIL is not success; journaled, finished later",
    async () => {
      const { row, traces } = await runRow(f, {
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
      finalOk(traces);
      expect(row.runs.every((r) => r.converged)).toBe(true);
    },
    ROW_TIMEOUT_MS,
  );
});
