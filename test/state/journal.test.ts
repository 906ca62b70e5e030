import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InputError } from "../../lib/errors.ts";
import { Journal } from "../../lib/state/journal.ts";
import { defineKind, fileNameFor } from "../../lib/state/journal-item.ts";
import { drain, journaled } from "../../lib/state/journal-run.ts";
import { localLocks } from "../../lib/state/local-lock.ts";
import { killAllWorkers, startTogether, startWorker } from "./fixtures/spawn.ts";

let dir: string;
let warnings: string[];
let clock: number;
const journalAt = (stateDir: string) =>
  new Journal({
    dir: join(stateDir, "journal"),
    lock: localLocks(join(stateDir, "locks")),
    fileMode: 0o600,
    now: () => clock,
    warn: (m) => warnings.push(m),
  });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), `pvemigrate-state-journal-${process.pid}-`));
  warnings = [];
  clock = Date.parse("2025-01-01T00:00:00Z");
});
afterEach(async () => {
  killAllWorkers();
  await rm(dir, { recursive: true, force: true });
});

interface DnsPayload {
  name: string;
  a: string[];
}
const dnsKind = defineKind<DnsPayload>(
  "dns",
  (p) => `dns:${p.name}`,
  (raw) => {
    const r = raw as Partial<DnsPayload>;
    if (typeof r?.name !== "string" || !Array.isArray(r.a)) throw new Error("not a dns payload");
    return { name: r.name, a: r.a };
  },
);

describe("journal", () => {
  it("keeps a step recorded by a process that crashed before markDone", async () => {
    const worker = startWorker(["record-and-die", dir]);
    expect(await worker.next()).toBe("recorded");
    expect(await worker.exited).toBe("SIGKILL");
    const items = await journalAt(dir).list();
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ id: "dns:mail.example.org", kind: "dns", attempts: 0 });
    expect(items[0]!.payload).toEqual({ a: ["198.51.100.20"] });
  });

  it("survives a restart: a new Journal on the same directory sees the same items, typed by kind", async () => {
    const first = journalAt(dir);
    await first.record(dnsKind, { name: "mail.example.org", a: ["203.0.113.10"] });
    await first.record({ id: "node:pve1:vm:101", kind: "node", payload: { vmid: 101 } });
    const second = journalAt(dir);
    const dns = await second.list(dnsKind);
    expect(dns.map((i) => i.payload.a)).toEqual([["203.0.113.10"]]);
    expect((await second.list("node")).map((i) => i.id)).toEqual(["node:pve1:vm:101"]);
    expect((await second.list()).length).toBe(2);
  });

  it("replaces an item recorded again under the same id: newest intent wins, createdAt kept", async () => {
    const journal = journalAt(dir);
    const old = await journal.record(dnsKind, { name: "mail.example.org", a: ["203.0.113.10"] });
    await journal.markFailed(old, new Error("master 10.10.3.53 timed out"));
    clock += 60_000;
    const newer = await journal.record(dnsKind, { name: "mail.example.org", a: ["198.51.100.20"] });
    const items = await journal.list(dnsKind);
    expect(items).toHaveLength(1);
    expect(items[0]).toEqual(newer);
    expect(items[0]).toMatchObject({
      createdAt: old.createdAt,
      attempts: 0,
      payload: { a: ["198.51.100.20"] },
    });
    expect(items[0]!.updatedAt).not.toBe(old.updatedAt);
    expect(items[0]!.lastError).toBeUndefined();
  });

  it("markDone of an older intent leaves the newer one pending", async () => {
    const journal = journalAt(dir);
    const old = await journal.record(dnsKind, { name: "www.example.org", a: ["203.0.113.10"] });
    const newer = await journal.record(dnsKind, { name: "www.example.org", a: ["192.0.2.30"] });
    expect(await journal.markDone(old)).toBe(false);
    expect(await journal.markFailed(old, new Error("late failure"))).toBeUndefined();
    expect(await journal.get(newer.id)).toEqual(newer);
    expect(await journal.markDone(newer)).toBe(true);
    expect(await journal.list()).toEqual([]);
    expect(await journal.markDone(newer)).toBe(false); // already gone: idempotent
  });

  it("markFailed counts attempts and keeps the last error", async () => {
    const journal = journalAt(dir);
    const item = await journal.record(dnsKind, { name: "a.example.org", a: [] });
    await journal.markFailed(item, new Error("first"));
    const second = await journal.markFailed(item, new Error("second"));
    expect(second).toMatchObject({ attempts: 2, lastError: "second", rev: item.rev });
    expect(await journal.get(item.id)).toEqual(second);
  });

  it("moves a corrupt file aside to *.corrupt, reports it, and lists the rest", async () => {
    const journal = journalAt(dir);
    await journal.record(dnsKind, { name: "ok.example.org", a: [] });
    const bad = join(dir, "journal", fileNameFor("dns:bad.example.org"));
    await writeFile(bad, '{"v":1,"id":"dns:bad.exa'); // torn write by something else
    const items = await journal.list();
    expect(items.map((i) => i.id)).toEqual(["dns:ok.example.org"]);
    const files = await readdir(join(dir, "journal"));
    expect(files.filter((f) => f.endsWith(".corrupt"))).toHaveLength(1);
    expect(files).not.toContain(fileNameFor("dns:bad.example.org"));
    expect(warnings.join("\n")).toMatch(/moved corrupt .* not JSON/);
    expect(await journal.list()).toHaveLength(1); // the .corrupt file is not an item
  });

  it("treats a file whose id does not match its name as corrupt", async () => {
    const journal = journalAt(dir);
    const item = await journal.record(dnsKind, { name: "x.example.org", a: [] });
    const text = await readFile(join(dir, "journal", fileNameFor(item.id)), "utf8");
    await writeFile(join(dir, "journal", fileNameFor("dns:y.example.org")), text);
    expect((await journal.list()).map((i) => i.id)).toEqual([item.id]);
    expect(warnings.join("\n")).toContain("does not belong in this file");
  });

  it("skips (and leaves in place) a payload its kind cannot parse", async () => {
    const journal = journalAt(dir);
    await journal.record({ id: "dns:future.example.org", kind: "dns", payload: { v2: true } });
    expect(await journal.list(dnsKind)).toEqual([]);
    expect(await journal.list("dns")).toHaveLength(1);
    expect(warnings.join("\n")).toContain("payload not understood");
  });

  it("never shows temp files as items and sweeps abandoned ones", async () => {
    const journal = journalAt(dir);
    await journal.record(dnsKind, { name: "t.example.org", a: [] });
    const jdir = join(dir, "journal");
    const fresh = join(jdir, `.tmp-${fileNameFor("dns:half.example.org")}.123.abcd`);
    const abandoned = join(jdir, `.tmp-${fileNameFor("dns:old.example.org")}.456.ef01`);
    await writeFile(fresh, '{"v":1');
    await writeFile(abandoned, '{"v":1');
    const longAgo = new Date(clock - 3_600_000);
    await utimes(abandoned, longAgo, longAgo);
    expect((await journal.list()).map((i) => i.id)).toEqual(["dns:t.example.org"]);
    const files = await readdir(jdir);
    expect(files).toContain(fresh.slice(jdir.length + 1)); // a writer may still be renaming it
    expect(files).not.toContain(abandoned.slice(jdir.length + 1));
  });

  it("keeps ids inside the directory whatever they contain", async () => {
    const journal = journalAt(dir);
    const ids = ["../../etc/passwd", ".hidden", "a/b:c d", "x".repeat(200), "ümlaut:é"];
    for (const id of ids) await journal.record({ id, kind: "misc", payload: id });
    const files = await readdir(join(dir, "journal"));
    expect(files).toHaveLength(ids.length);
    for (const f of files) expect(f).toMatch(/^[A-Za-z0-9%~\-_@+=,]+\.json$/);
    expect(new Set((await journal.list()).map((i) => i.id))).toEqual(new Set(ids));
    await expect(journal.record({ id: "", kind: "misc", payload: 1 })).rejects.toBeInstanceOf(InputError);
    await expect(journal.record({ id: "a\nb", kind: "misc", payload: 1 })).rejects.toBeInstanceOf(InputError);
    await expect(journal.record({ id: "ok", kind: "Bad Kind", payload: 1 })).rejects.toBeInstanceOf(
      InputError,
    );
  });

  it("refuses a payload that would make a file anywhere near pmxcfs's 1 MiB limit", async () => {
    const journal = journalAt(dir);
    await expect(journal.record({ id: "big", kind: "misc", payload: "x".repeat(300_000) })).rejects.toThrow(
      /limit/,
    );
    expect(await journal.list()).toEqual([]);
  });

  it("stays consistent under 3 processes recording, failing and completing one id 20 times each", async () => {
    const workers = await startTogether(3, (i) => ["journal-race", dir, `w${i}`, "20"]);
    const results = (await Promise.all(workers.map((w) => w.next()))) as {
      done: number;
      superseded: number;
    }[];
    await Promise.all(workers.map((w) => w.exited));
    for (const r of results) expect(r.done + r.superseded).toBe(20);
    // The very last record is followed by its own writer's markDone, which nothing can supersede.
    expect(await journalAt(dir).list()).toEqual([]);
    expect(await readdir(join(dir, "journal"))).toEqual([]); // no temp, no corrupt files
    expect(warnings).toEqual([]);
  });

  it("never loses the newest intent while reconcilers finish older ones (hook vs 2 timers, 150 records)", async () => {
    const stop = join(dir, "stop");
    const workers = await startTogether(3, (i) =>
      i === 0 ? ["journal-hook", dir, "150"] : ["journal-reconcile", dir, stop],
    );
    const [hook, ...reconcilers] = workers as [(typeof workers)[0], ...typeof workers];
    expect(await hook.next()).toEqual({ wentBack: 0 });
    await writeFile(stop, "");
    const done = ((await Promise.all(reconcilers.map((w) => w.next()))) as { done: number[] }[]).flatMap(
      (r) => r.done,
    );
    await Promise.all(workers.map((w) => w.exited));
    const left = await journalAt(dir).list();
    // Either the last intent is still pending, or a reconciler finished exactly it: never an older one instead.
    if (left.length > 0) expect(left.map((i) => i.payload)).toEqual([{ seq: 150 }]);
    else expect(done).toContain(150);
    expect(new Set(done).size).toBe(done.length); // no intent finished twice
  });
});

describe("journaled() and drain()", () => {
  it("journaled removes the item on success and keeps it, with the error, on failure", async () => {
    const journal = journalAt(dir);
    const seenDuring = await journaled(journal, dnsKind, { name: "ok.example.org", a: [] }, async () =>
      (await journal.list()).map((i) => i.id),
    );
    expect(seenDuring).toEqual(["dns:ok.example.org"]); // recorded BEFORE the step ran
    expect(await journal.list()).toEqual([]);
    await expect(
      journaled(journal, dnsKind, { name: "down.example.org", a: [] }, () =>
        Promise.reject(new Error("all masters down")),
      ),
    ).rejects.toThrow("all masters down");
    expect(await journal.list()).toMatchObject([
      { id: "dns:down.example.org", attempts: 1, lastError: "all masters down" },
    ]);
  });

  it("drain replays each pending item once, newest intent across journals, and keeps failures", async () => {
    const local = journalAt(join(dir, "node"));
    const cluster = journalAt(join(dir, "cluster"));
    await local.record(dnsKind, { name: "a.example.org", a: ["203.0.113.10"] }); // recorded without quorum
    clock += 1000;
    await cluster.record(dnsKind, { name: "a.example.org", a: ["198.51.100.20"] }); // newer, cluster-wide
    await cluster.record(dnsKind, { name: "b.example.org", a: ["192.0.2.30"] });
    await local.record({ id: "other", kind: "misc", payload: 1 }); // another kind: untouched
    const replayed: string[] = [];
    const result = await drain([cluster, local], dnsKind, async (item) => {
      replayed.push(`${item.payload.name}=${item.payload.a.join(",")}`);
      if (item.payload.name === "b.example.org") throw new Error("REFUSED");
    });
    expect(replayed).toEqual(["a.example.org=198.51.100.20", "b.example.org=192.0.2.30"]);
    expect(result).toEqual({
      done: ["dns:a.example.org"],
      failed: [{ id: "dns:b.example.org", attempts: 1, error: "REFUSED" }],
      superseded: [],
    });
    expect((await local.list()).map((i) => i.id)).toEqual(["other"]);
    expect((await cluster.list()).map((i) => i.id)).toEqual(["dns:b.example.org"]);
  });

  it("drain reports an item re-recorded while it was being replayed as superseded and leaves it", async () => {
    const journal = journalAt(dir);
    await journal.record(dnsKind, { name: "c.example.org", a: ["203.0.113.10"] });
    const result = await drain(journal, dnsKind, async () => {
      await journal.record(dnsKind, { name: "c.example.org", a: ["192.0.2.30"] }); // the hook, meanwhile
    });
    expect(result).toEqual({ done: [], failed: [], superseded: ["dns:c.example.org"] });
    expect((await journal.list(dnsKind)).map((i) => i.payload.a)).toEqual([["192.0.2.30"]]);
  });
});
