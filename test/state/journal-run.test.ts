import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { Journal } from "../../lib/state/journal.ts";
import { defineKind } from "../../lib/state/journal-item.ts";
import { keepPending, runRecorded } from "../../lib/state/journal-run.ts";
import type { WithLock } from "../../lib/state/lock-common.ts";

// The one journaled step (record -> run -> markDone/markFailed) the switch,
// the hook's worker and the DNS withdrawals share (lib/state/journal-run.ts).

let dir: string;
let lockBroken = false;
// A journal whose lock can be made to fail: its bookkeeping fails, its steps do not.
const lease = { signal: new AbortController().signal };
const lock: WithLock = (_name, fn) =>
  lockBroken ? Promise.reject(new Error("journal lock timed out")) : fn(lease);
const journalIn = () => new Journal({ dir: join(dir, "journal"), lock, warn: () => {} });
const work = defineKind<{ vmid: number }>(
  "work",
  (p) => `work:${p.vmid}`,
  (raw) => z.object({ vmid: z.number() }).parse(raw),
);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), `pvemigrate-journal-run-${process.pid}-`));
  lockBroken = false;
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

describe("runRecorded and keepPending", () => {
  it("an item recorded earlier (the hook's) is removed after its step, and kept with the error after a failure", async () => {
    const journal = journalIn();
    const ok = await journal.record(work, { vmid: 101 });
    expect(await runRecorded({ journal, item: ok }, async (item) => item.payload.vmid)).toBe(101);
    const bad = await journal.record(work, { vmid: 102 });
    await expect(
      runRecorded({ journal, item: bad }, () => Promise.reject(new Error("nft: no such table"))),
    ).rejects.toThrow("nft: no such table");
    expect(await journal.list()).toMatchObject([
      { id: "work:102", attempts: 1, lastError: "nft: no such table" },
    ]);
  });

  it("the step's error is what the caller sees even when the journal cannot count the attempt", async () => {
    const journal = journalIn();
    const item = await journal.record(work, { vmid: 103 });
    const step = async () => {
      lockBroken = true;
      throw new Error("old node unreachable");
    };
    await expect(runRecorded({ journal, item }, step)).rejects.toThrow("old node unreachable");
    lockBroken = false;
    expect(await journal.list()).toMatchObject([{ id: "work:103", attempts: 0 }]); // still pending
  });

  it("a step that succeeded but could not be removed stays pending, its attempt counted", async () => {
    const journal = journalIn();
    const item = await journal.record(work, { vmid: 104 });
    let removals = 0;
    const counting: WithLock = (name, fn, opts) => {
      // The step's markDone is the first use of the lock after recording: fail only that one.
      if (removals++ === 0) return Promise.reject(new Error("journal lock timed out"));
      return lock(name, fn, opts);
    };
    const flaky = new Journal({ dir: journal.dir, lock: counting, warn: () => {} });
    await expect(runRecorded({ journal: flaky, item }, async () => "done")).rejects.toThrow(
      "journal lock timed out",
    );
    expect(await journal.list()).toMatchObject([
      { id: "work:104", attempts: 1, lastError: "journal lock timed out" },
    ]);
  });

  it("keepPending leaves a step that was not run pending with why it waits", async () => {
    const journal = journalIn();
    const item = await journal.record(work, { vmid: 105 });
    await keepPending({ journal, item }, new Error("waiting for node:pve2"));
    expect(await journal.list()).toMatchObject([
      { id: "work:105", attempts: 1, lastError: "waiting for node:pve2" },
    ]);
  });
});
