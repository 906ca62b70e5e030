import { describe, expect, it } from "vitest";
import { DnsAllMastersFailed, DnsRejected } from "../../lib/dns/errors.ts";
import { observedSend, recordEvents } from "../../lib/metrics/events.ts";
import { metricFamilies } from "../../lib/metrics/families.ts";
import { escapeLabelValue, renderMetrics } from "../../lib/metrics/render.ts";
import { addRun, emptyMetricsState, parseMetricsState } from "../../lib/metrics/state.ts";
import { parsePromText, sampleValue } from "../support/prom-text.ts";

const T = Date.UTC(2026, 4, 1, 10, 0, 0);

describe("rendering (lib/metrics/render.ts)", () => {
  it("escapes label values and HELP per the exposition format, and the strict parser reads them back exactly", () => {
    const hostile = 'a"b\\c\nd}{x="y"} 9';
    const text = renderMetrics([
      {
        name: "t_items",
        help: "help with \\ and\nnewline",
        type: "gauge",
        samples: [{ labels: { v: hostile }, value: 1 }],
      },
    ]);
    expect(text).toBe(
      '# HELP t_items help with \\\\ and\\nnewline\n# TYPE t_items gauge\nt_items{v="a\\"b\\\\c\\nd}{x=\\"y\\"} 9"} 1\n',
    );
    const parsed = parsePromText(text);
    expect(parsed[0]?.help).toBe("help with \\ and\nnewline");
    expect(sampleValue(parsed, "t_items", { v: hostile })).toBe(1);
    expect(escapeLabelValue("plain")).toBe("plain");
  });

  it("writes NaN and infinities as Prometheus spells them, and refuses names the format cannot carry", () => {
    const text = renderMetrics([
      {
        name: "v",
        help: "h",
        type: "gauge",
        samples: [
          { labels: { k: "a" }, value: Number.NaN },
          { labels: { k: "b" }, value: -Infinity },
        ],
      },
    ]);
    expect(text).toContain('v{k="a"} NaN\nv{k="b"} -Inf\n');
    expect(() => renderMetrics([{ name: "a-b", help: "", type: "gauge", samples: [] }])).toThrow(
      /metric name/,
    );
    expect(() =>
      renderMetrics([{ name: "a", help: "", type: "gauge", samples: [{ labels: { __x: "1" }, value: 1 }] }]),
    ).toThrow(/label name/);
    expect(() =>
      renderMetrics([
        { name: "a", help: "", type: "gauge", samples: [] },
        { name: "a", help: "", type: "gauge", samples: [] },
      ]),
    ).toThrow(/twice/);
  });
});

describe("the metrics state: one run at a time (lib/metrics/state.ts)", () => {
  const events = {
    dns: [
      { master: "127.0.0.1:5300", seconds: 0.02, failed: ["127.0.0.1:5399"] },
      { master: "127.0.0.1:5300", seconds: 0.04, failed: [] },
      { seconds: 2, failed: ["127.0.0.1:5300", "127.0.0.1:5399"] },
    ],
    switches: [{ vmid: 101, at: T, to: "pve1", from: "pve2", seconds: 1.5 }],
  };

  it("counters add up across runs; the last switch per VM is replaced", () => {
    const one = addRun(emptyMetricsState(), events);
    const two = addRun(one, {
      dns: events.dns.slice(0, 1),
      switches: [{ vmid: 101, at: T + 60_000, to: "pve1", seconds: 0.5 }],
    });
    expect(two.dns["127.0.0.1:5300"]).toEqual({ count: 3, sum: expect.closeTo(0.08, 9), failures: 1 });
    expect(two.dns["127.0.0.1:5399"]).toEqual({ count: 0, sum: 0, failures: 3 });
    expect(two.switches["101"]).toEqual({ at: T / 1000 + 60, seconds: 0.5, to: "pve1" });
    expect(two.switchTotal).toEqual({ count: 2, sum: 2 });
    // The input is not changed.
    expect(one.dns["127.0.0.1:5300"]?.count).toBe(2);
  });

  it("a failed reconcile keeps the last success's time; a successful one moves it", () => {
    const ok = addRun(
      emptyMetricsState(),
      { dns: [], switches: [] },
      { at: T, exitCode: 0, drift: 2, notesRefused: 1, errors: 0 },
    );
    const failed = addRun(
      ok,
      { dns: [], switches: [] },
      { at: T + 60_000, exitCode: 2, drift: 0, notesRefused: 0, errors: 1 },
    );
    expect(failed.reconcile).toEqual({
      lastRunAt: T / 1000 + 60,
      lastExitCode: 2,
      lastSuccessAt: T / 1000,
      drift: 0,
      notesRefused: 0,
      errors: 1,
    });
    const never = addRun(
      emptyMetricsState(),
      { dns: [], switches: [] },
      { at: T, exitCode: 3, drift: 0, notesRefused: 0, errors: 1 },
    );
    expect(never.reconcile?.lastSuccessAt).toBeUndefined();
  });

  it("a state file that is not one is refused, naming the field", () => {
    expect(parseMetricsState({ ...emptyMetricsState(), switchTotal: { count: -1, sum: 0 } })).toEqual({
      problem: expect.stringMatching(/^switchTotal\.count: /),
    });
    expect(parseMetricsState(addRun(emptyMetricsState(), events))).toHaveProperty("state");
  });
});

describe("the families a node exports (lib/metrics/families.ts), read back by the strict parser", () => {
  const state = addRun(
    addRun(emptyMetricsState(), {
      dns: [{ master: "127.0.0.1:5300", seconds: 0.25, failed: ['evil"master\n'] }],
      switches: [
        { vmid: 101, at: T, to: "pve1", seconds: 1.25 },
        { vmid: 102, at: T, to: "pve2", seconds: 9 },
      ],
    }),
    { dns: [], switches: [] },
    { at: T + 1000, exitCode: 0, drift: 3, notesRefused: 2, errors: 0 },
  );
  const text = renderMetrics(
    metricFamilies({
      node: "pve1",
      state,
      lastApplied: [
        { vmid: 101, node: "pve1", appliedAt: new Date(T - 500).toISOString() },
        { vmid: 102, node: "pve2", appliedAt: new Date(T).toISOString() },
      ],
      pending: [
        { journal: "cluster", kind: "dns" },
        { journal: "cluster", kind: "dns" },
        { journal: "local", kind: "hook" },
      ],
    }),
  );
  const f = parsePromText(text);

  it("the last successful reconcile, its drift and the Notes it refused", () => {
    expect(sampleValue(f, "pvemigrate_dns_reconcile_last_success_timestamp_seconds")).toBe(T / 1000 + 1);
    expect(sampleValue(f, "pvemigrate_dns_reconcile_last_exit_code")).toBe(0);
    expect(sampleValue(f, "pvemigrate_dns_drift_items")).toBe(3);
    expect(sampleValue(f, "pvemigrate_dns_notes_refused_items")).toBe(2);
  });

  it("the last switch per VM to this node, with its duration; other nodes' VMs are theirs to export", () => {
    expect(sampleValue(f, "pvemigrate_dns_vm_last_switch_timestamp_seconds", { vmid: "101" })).toBe(
      T / 1000 - 0.5,
    );
    expect(
      sampleValue(f, "pvemigrate_dns_vm_last_switch_timestamp_seconds", { vmid: "102" }),
    ).toBeUndefined();
    expect(sampleValue(f, "pvemigrate_dns_vm_last_switch_duration_seconds", { vmid: "101" })).toBe(1.25);
    expect(sampleValue(f, "pvemigrate_dns_vm_last_switch_duration_seconds", { vmid: "102" })).toBeUndefined();
    expect(sampleValue(f, "pvemigrate_dns_switch_duration_seconds_count")).toBe(2);
  });

  it("DNS update latency and failures per master, the master's label escaped", () => {
    expect(
      sampleValue(f, "pvemigrate_dns_dns_update_duration_seconds_sum", { master: "127.0.0.1:5300" }),
    ).toBe(0.25);
    expect(
      sampleValue(f, "pvemigrate_dns_dns_update_duration_seconds_count", { master: "127.0.0.1:5300" }),
    ).toBe(1);
    expect(sampleValue(f, "pvemigrate_dns_dns_update_failures_total", { master: 'evil"master\n' })).toBe(1);
    expect(sampleValue(f, "pvemigrate_dns_dns_update_failures_total", { master: "127.0.0.1:5300" })).toBe(0);
  });

  it("pending journal items by journal and kind, every known kind present (0 when none)", () => {
    expect(sampleValue(f, "pvemigrate_dns_journal_pending_items", { journal: "cluster", kind: "dns" })).toBe(
      2,
    );
    expect(sampleValue(f, "pvemigrate_dns_journal_pending_items", { journal: "local", kind: "hook" })).toBe(
      1,
    );
    expect(
      sampleValue(f, "pvemigrate_dns_journal_pending_items", { journal: "local", kind: "withdraw" }),
    ).toBe(0);
    expect(sampleValue(f, "pvemigrate_dns_journal_pending_items", { journal: "cluster", kind: "node" })).toBe(
      0,
    );
  });
});

describe("UPDATE messages published per master (lib/metrics/events.ts observedSend)", () => {
  const winner = (r: { master: string }) => r.master;

  it("an answer names its master and every failed attempt the sender reported; a refusal counts against its master", async () => {
    const run = recordEvents();
    const ok = observedSend(async (failed: string[]) => {
      failed.push("a:53");
      return { master: "b:53" };
    }, winner);
    const allFailed = observedSend(async (failed: string[]): Promise<{ master: string }> => {
      failed.push("a:53", "b:53", "a:53", "b:53");
      throw new DnsAllMastersFailed("update x", [
        { master: "a:53", reason: "timeout" },
        { master: "b:53", reason: "SERVFAIL" },
      ]);
    }, winner);
    const refused = observedSend(async (failed: string[]): Promise<{ master: string }> => {
      failed.push("a:53");
      throw new DnsRejected("update x", "b:53", "REFUSED", "no");
    }, winner);
    await ok();
    await expect(allFailed()).rejects.toThrow(DnsAllMastersFailed);
    await expect(refused()).rejects.toThrow(DnsRejected);
    run.stop();
    await ok(); // not heard after stop()
    expect(run.dns.map((e) => [e.master, e.failed])).toEqual([
      ["b:53", ["a:53"]],
      [undefined, ["a:53", "b:53", "a:53", "b:53"]],
      [undefined, ["a:53", "b:53"]],
    ]);
    for (const e of run.dns) expect(e.seconds).toBeGreaterThanOrEqual(0);
  });
});
