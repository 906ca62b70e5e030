import { describe, expect, it } from "vitest";
import type { DnsMaster } from "../../lib/config/types.ts";
import type { FinalReply } from "../../lib/dns/classify.ts";
import { DnsAllMastersFailed, DnsRejected, masterLabel } from "../../lib/dns/errors.ts";
import { type AttemptResult, tryMasters } from "../../lib/dns/failover.ts";
import type { MasterSession } from "../../lib/dns/masters.ts";
import type { NameReader } from "../../lib/dns/read.ts";
import { createUpdateSender } from "../../lib/dns/update-send.ts";
import type { ParsedMessage } from "../../lib/dns/wire/response.ts";
import { recordEvents } from "../../lib/metrics/events.ts";
import { addRun, emptyMetricsState } from "../../lib/metrics/state.ts";

// The per-master failure counter counts every UPDATE a master did not take,
// in every failover round of a message, not only the last round's: a master
// that times out before the other one answers in round two failed twice.
// The real failover loop (tryMasters, p-retry between rounds) and the real
// sender run against scripted masters; no socket is opened.

const A: DnsMaster = { host: "127.0.0.1", port: 5301 };
const B: DnsMaster = { host: "127.0.0.1", port: 5302 };
const noerror = { rcode: 0 } as ParsedMessage;

/** A session whose masters answer from `script` (one entry per attempt, per master, in order). */
function scriptedSession(script: Map<DnsMaster, Array<AttemptResult<FinalReply>>>, totalTimeoutMs = 5_000) {
  const attempts: string[] = [];
  const session = {
    zone: "example.org",
    failover: (what, attempt) =>
      tryMasters([A, B], attempt, {
        what,
        timeoutMs: 50,
        totalTimeoutMs,
        minBackoffMs: 1,
        maxBackoffMs: 2,
      }),
    async attemptOnce(m) {
      attempts.push(masterLabel(m));
      const next = script.get(m)!.shift();
      return next ?? { kind: "next", reason: "timeout" };
    },
    finalOrThrow(what, m, reply) {
      if (reply.kind === "rejected") throw new DnsRejected(what, masterLabel(m), reply.rcode, reply.detail);
      return reply.message;
    },
  } satisfies Partial<MasterSession> as unknown as MasterSession;
  const reader = {} as NameReader;
  return { sender: createUpdateSender(session, reader, () => {}), attempts };
}

const timeout = { kind: "next", reason: "timeout" } as const;
const servfail = { kind: "next", reason: "SERVFAIL" } as const;
const answer = { kind: "final", value: { kind: "answer", message: noerror } } as const;

describe("UPDATE failures per master, every failover round (update-send.ts + metrics/events.ts)", () => {
  it("A fails both rounds, B fails round one and answers round two: A counts 2 failures, B 1 and the answer", async () => {
    const { sender } = scriptedSession(
      new Map([
        [A, [timeout, timeout]],
        [B, [servfail, answer]],
      ]),
    );
    const run = recordEvents();
    await sender.send("update x", () => Buffer.alloc(12));
    run.stop();
    expect(run.dns.map((e) => [e.master, e.failed])).toEqual([
      ["127.0.0.1:5302", ["127.0.0.1:5301", "127.0.0.1:5302", "127.0.0.1:5301"]],
    ]);
    const state = addRun(emptyMetricsState(), { dns: run.dns, switches: [] });
    expect(state.dns["127.0.0.1:5301"]).toMatchObject({ count: 0, failures: 2 });
    expect(state.dns["127.0.0.1:5302"]).toMatchObject({ count: 1, failures: 1 });
  });

  it("every master failing every round: each attempt counts once, a master left untried by the budget not at all", async () => {
    const { sender, attempts } = scriptedSession(
      new Map([
        [A, []],
        [B, []],
      ]),
      60,
    );
    const run = recordEvents();
    await expect(sender.send("update x", () => Buffer.alloc(12))).rejects.toThrow(DnsAllMastersFailed);
    run.stop();
    expect(attempts.length).toBeGreaterThan(2);
    expect(run.dns[0]?.failed).toEqual(attempts);
  });

  it("a refusal after a failed round counts the earlier failures and the refusing master", async () => {
    const { sender } = scriptedSession(
      new Map([
        [A, [timeout, { kind: "final", value: { kind: "rejected", rcode: "REFUSED", detail: "no" } }]],
        [B, [servfail]],
      ]),
    );
    const run = recordEvents();
    await expect(sender.send("update x", () => Buffer.alloc(12))).rejects.toThrow(DnsRejected);
    run.stop();
    expect(run.dns[0]?.failed).toEqual(["127.0.0.1:5301", "127.0.0.1:5302", "127.0.0.1:5301"]);
  });
});
