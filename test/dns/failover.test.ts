import { describe, expect, it } from "vitest";
import type { DnsMaster } from "../../lib/config/types.ts";
import { DnsAllMastersFailed } from "../../lib/dns/errors.ts";
import { type Attempt, backoffMs, tryMasters } from "../../lib/dns/failover.ts";
import { ExitCode, exitCodeOf } from "../../lib/errors.ts";

// The failover policy with scripted attempts (no network): order, what moves
// on, what is final, and the bounded total.

const m = (port: number): DnsMaster => ({ host: "127.0.0.1", port });
const masters = [m(1), m(2), m(3)];
const opts = { timeoutMs: 100, totalTimeoutMs: 1000, what: "update x", minBackoffMs: 10 };

describe("tryMasters", () => {
  it("tries candidates in order and stops at the first final answer", async () => {
    const tried: number[] = [];
    const attempt: Attempt<string> = async (master) => {
      tried.push(master.port);
      return master.port === 2 ? { kind: "final", value: "ok" } : { kind: "next", reason: "timeout" };
    };
    const r = await tryMasters(masters, attempt, opts);
    expect(r).toMatchObject({
      master: m(2),
      value: "ok",
      skipped: [{ master: "127.0.0.1:1", reason: "timeout" }],
    });
    expect(tried).toEqual([1, 2]);
  });

  it("gives each attempt a deadline of one timeout", async () => {
    const budgets: number[] = [];
    await tryMasters(
      masters,
      async (_m, deadline) => {
        budgets.push(deadline - Date.now());
        return { kind: "final", value: 1 };
      },
      opts,
    );
    expect(budgets[0]).toBeLessThanOrEqual(100);
    expect(budgets[0]).toBeGreaterThan(50);
  });

  it("goes round again after backoff, then fails with one line per master", async () => {
    let calls = 0;
    const attempt: Attempt<never> = async (master) => {
      calls++;
      return { kind: "next", reason: `down ${master.port}` };
    };
    const err = await tryMasters(masters, attempt, { ...opts, totalTimeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DnsAllMastersFailed);
    expect(exitCodeOf(err)).toBe(ExitCode.peer);
    expect(calls).toBeGreaterThan(3); // more than one round
    const lines = (err as Error).message.split("\n");
    expect(lines.slice(1)).toEqual([
      "  127.0.0.1:1: down 1",
      "  127.0.0.1:2: down 2",
      "  127.0.0.1:3: down 3",
    ]);
    expect((err as DnsAllMastersFailed).failures).toHaveLength(3);
  });

  it("respects the total bound even when attempts are slow", async () => {
    const start = Date.now();
    const attempt: Attempt<never> = async (_m, deadline) => {
      await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())));
      return { kind: "next", reason: "timeout" };
    };
    await expect(tryMasters(masters, attempt, { ...opts, totalTimeoutMs: 450 })).rejects.toThrow(
      DnsAllMastersFailed,
    );
    // Generous bound: total plus at most one capped backoff.
    expect(Date.now() - start).toBeLessThan(450 + 400);
  });

  it("a final refusal is not retried elsewhere", async () => {
    const tried: number[] = [];
    const r = await tryMasters(
      masters,
      async (master) => {
        tried.push(master.port);
        return { kind: "final", value: "REFUSED" };
      },
      opts,
    );
    expect(r.value).toBe("REFUSED");
    expect(tried).toEqual([1]);
  });

  it("an attempt that throws (a bug, not a master's answer) ends the failover with that error, no second round", async () => {
    let calls = 0;
    const err = await tryMasters(
      masters,
      async () => {
        calls++;
        throw new TypeError("boom");
      },
      opts,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(calls).toBe(1);
  });
});

describe("backoffMs (the wait between rounds, as p-retry computed it: factor 2, randomize)", () => {
  it("doubles per round from the minimum, times a random factor in [1, 2), and stops at the cap", () => {
    expect([0, 1, 2, 3].map((r) => backoffMs(r, 100, 2000, 0))).toEqual([100, 200, 400, 800]);
    expect(backoffMs(0, 100, 2000, 0.5)).toBe(150);
    expect(backoffMs(10, 100, 2000, 0.99)).toBe(2000);
  });
});
