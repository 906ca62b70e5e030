import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reconcileWithMetrics } from "../../lib/metrics/reconcile-run.ts";
import { cli } from "../cli/run.ts";
import { type Harness, startHarness } from "../e2e/harness.ts";
import { type ParsedFamily, parsePromText, sampleValue } from "../support/prom-text.ts";
import { missing } from "../support/requirements.ts";

// Reconcile against the simulated cluster and a real BIND primary + secondary,
// with metrics.textfile set: what node_exporter would read, parsed strictly.

describe.skipIf(missing({ bins: ["named", "dig", "tsig-keygen"] }))("metrics written by reconcile", () => {
  let h: Harness;
  let textDir: string;
  const textfile = (node: string) => join(textDir, `${node}.prom`);
  const read = (node: string): ParsedFamily[] => parsePromText(readFileSync(textfile(node), "utf8"));
  const master = () => `127.0.0.1:${h.primary.port}`;

  beforeAll(async () => {
    h = await startHarness({
      config: (doc, { dir }) => {
        textDir = join(dir, "textfile");
        mkdirSync(textDir);
        doc.metrics = { textfile: join(textDir, "{node}.prom") };
      },
    });
  }, 60_000);
  afterAll(async () => h?.stop());

  it("a first reconcile: its success time, what it found wrong as drift, its UPDATEs at the master that took them", async () => {
    const rt = h.runtime("pve1");
    const r = await reconcileWithMetrics(rt);
    expect(r.errors).toEqual([]);
    const f = read("pve1");
    const last = sampleValue(f, "pvemigrate_dns_reconcile_last_success_timestamp_seconds");
    expect(last).toBe(sampleValue(f, "pvemigrate_dns_reconcile_last_run_timestamp_seconds"));
    expect(Math.abs((last ?? 0) - Date.now() / 1000)).toBeLessThan(600);
    expect(sampleValue(f, "pvemigrate_dns_reconcile_last_exit_code")).toBe(0);
    // A fresh cluster: VMs switched here (no last-applied record yet) and names written are drift.
    const updated = r.dns?.outcomes.filter((o) => o.status === "updated").length ?? 0;
    const drift = r.switched.length + updated + (r.local?.changes.length ?? 0);
    expect(drift).toBeGreaterThan(0);
    expect(sampleValue(f, "pvemigrate_dns_drift_items")).toBe(drift);
    const count = sampleValue(f, "pvemigrate_dns_dns_update_duration_seconds_count", { master: master() });
    expect(count).toBeGreaterThan(0);
    expect(
      sampleValue(f, "pvemigrate_dns_dns_update_duration_seconds_sum", { master: master() }),
    ).toBeGreaterThan(0);
    expect(sampleValue(f, "pvemigrate_dns_dns_update_failures_total", { master: master() })).toBe(0);
    expect(sampleValue(f, "pvemigrate_dns_notes_refused_items")).toBe(0);
    expect(sampleValue(f, "pvemigrate_dns_journal_pending_items", { journal: "cluster", kind: "dns" })).toBe(
      0,
    );
    // Only the finished file is in the collector's directory: the temp file was renamed over it.
    expect(readdirSync(textDir)).toEqual(["pve1.prom"]);
  });

  it("a VM moved without a hook: the new node exports its switch time and duration; a converged run has no drift", async () => {
    h.sim.moveVm(101, "pve3");
    const r = await reconcileWithMetrics(h.runtime("pve3"));
    expect(r.switched.map((s) => s.vmid)).toEqual([101]);
    const f = read("pve3");
    expect(
      sampleValue(f, "pvemigrate_dns_vm_last_switch_timestamp_seconds", { vmid: "101" }),
    ).toBeGreaterThan(0);
    const took = sampleValue(f, "pvemigrate_dns_vm_last_switch_duration_seconds", { vmid: "101" });
    expect(took).toBeGreaterThan(0);
    expect(sampleValue(f, "pvemigrate_dns_switch_duration_seconds_sum")).toBe(took);
    expect(sampleValue(f, "pvemigrate_dns_switch_duration_seconds_count")).toBe(1);

    const again = await reconcileWithMetrics(h.runtime("pve3"));
    expect(again.switched).toEqual([]);
    const g = read("pve3");
    expect(sampleValue(g, "pvemigrate_dns_drift_items")).toBe(0);
    // Counters persist across runs (stateDir/metrics.json).
    expect(sampleValue(g, "pvemigrate_dns_switch_duration_seconds_count")).toBe(1);
  });

  it("`metrics --output` rewrites the file by rename (a new inode each time), never in place", async () => {
    const out = join(textDir, "cli.prom");
    const run = () => cli(["metrics", "--node", "pve3", "--output", out], async () => h.loaded);
    expect((await run()).code).toBe(0);
    const first = statSync(out).ino;
    expect(
      sampleValue(parsePromText(readFileSync(out, "utf8")), "pvemigrate_dns_switch_duration_seconds_count"),
    ).toBe(1);
    expect((await run()).code).toBe(0);
    expect(statSync(out).ino).not.toBe(first);
    expect(readdirSync(textDir).filter((n) => !n.endsWith(".prom"))).toEqual([]);
    const printed = await cli(["metrics", "--node", "pve3"], async () => h.loaded);
    expect(printed.stdout).toBe(readFileSync(out, "utf8"));
  });
});
