import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ClaimedNamesStore,
  type ClaimRegistry,
  MAX_TOMBSTONES,
  MEMDB_MAX_FILE_SIZE,
  recordHeld,
  recordReleased,
} from "../../lib/state/claimed-names.ts";

// The registry of guest names we wrote, as a file in (a directory standing
// for) pmxcfs: missing means "nothing known", a damaged one is not trusted,
// tombstones are bounded.

let dir: string;
let warnings: string[];
let store: ClaimedNamesStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), `pvemigrate-claimed-${process.pid}-`));
  warnings = [];
  store = new ClaimedNamesStore(join(dir, "pvemigrate-dns", "claimed-names.json"), (m) => warnings.push(m));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("claimed-names registry", () => {
  it("no file yet (fresh install or upgrade): undefined, so nothing is withdrawn", async () => {
    expect(await store.read()).toBeUndefined();
  });

  it("writes and reads back held names and tombstones", async () => {
    const reg: ClaimRegistry = new Map();
    expect(recordHeld(reg, "mail.example.org", { vmid: 101, origin: "file" })).toBe(true);
    expect(recordHeld(reg, "mail.example.org", { vmid: 101, origin: "file" })).toBe(false);
    recordHeld(reg, "shop.example.org", { vmid: 103, origin: "notes" });
    recordHeld(reg, "old.example.org", { vmid: 102, origin: "file" });
    recordReleased(reg, "shop.example.org", 1000); // a Notes name is forgotten
    recordReleased(reg, "old.example.org", 2000); // a file name leaves a tombstone
    await store.write(reg);
    expect(await store.read()).toEqual(
      new Map([
        ["mail.example.org", { vmid: 101, origin: "file" }],
        ["old.example.org", { vmid: 102, origin: "file", withdrawnAt: 2000 }],
      ]),
    );
    // A file claim taking the name again turns the tombstone back into a held name.
    expect(recordHeld(reg, "old.example.org", { vmid: 104, origin: "file" })).toBe(true);
    expect(reg.get("old.example.org")).toEqual({ vmid: 104, origin: "file" });
  });

  it("keeps the newest tombstones only", async () => {
    const reg: ClaimRegistry = new Map();
    for (let i = 0; i < MAX_TOMBSTONES + 5; i++)
      reg.set(`t${i}.example.org`, { vmid: 101, origin: "file", withdrawnAt: i });
    await store.write(reg);
    const back = (await store.read())!;
    expect(back.size).toBe(MAX_TOMBSTONES);
    expect(back.has("t0.example.org")).toBe(false);
    expect(back.has(`t${MAX_TOMBSTONES + 4}.example.org`)).toBe(true);
  });

  it("holds 10,000 guests' names (issue 16: 3,334 names used to be refused), within pmxcfs's 1 MiB file limit", async () => {
    const reg: ClaimRegistry = new Map();
    for (let i = 0; i < 10_000; i++)
      recordHeld(reg, `g${100 + i}.example.org`, { vmid: 100 + i, origin: "file" });
    for (let i = 0; i < MAX_TOMBSTONES; i++)
      reg.set(`gone${i}.example.org`, { vmid: 99, origin: "file", withdrawnAt: i });
    await store.write(reg);
    expect((await store.read())?.size).toBe(10_000 + MAX_TOMBSTONES);
    expect((await stat(store.file)).size).toBeLessThanOrEqual(MEMDB_MAX_FILE_SIZE);
  });

  it("held names that would not fit pmxcfs (memdb.h MEMDB_MAX_FILE_SIZE) are refused, nothing written; tombstones give way first", async () => {
    const long = (i: number) =>
      `${"x".repeat(60)}.${"y".repeat(60)}.${String(i).padStart(6, "0")}.example.org`;
    const reg: ClaimRegistry = new Map();
    // ~170 bytes an entry: 6,000 fit, then tombstones fill what is left.
    for (let i = 0; i < 6000; i++) recordHeld(reg, long(i), { vmid: 100 + i, origin: "notes" });
    for (let i = 0; i < MAX_TOMBSTONES; i++)
      reg.set(`t${long(i)}`, { vmid: 99, origin: "file", withdrawnAt: i });
    await store.write(reg);
    const back = (await store.read())!;
    expect((await stat(store.file)).size).toBeLessThanOrEqual(MEMDB_MAX_FILE_SIZE);
    expect(back.size).toBeGreaterThan(6000);
    expect(back.size).toBeLessThan(6000 + MAX_TOMBSTONES);
    expect(back.has(`t${long(MAX_TOMBSTONES - 1)}`)).toBe(true); // the newest tombstone stays
    for (let i = 6000; i < 7000; i++) recordHeld(reg, long(i), { vmid: 100 + i, origin: "notes" });
    await expect(store.write(reg)).rejects.toThrow(
      /7000 names take \d+ bytes, over pmxcfs's file limit of 1048576/,
    );
    expect((await store.read())?.size).toBe(back.size);
  });

  it("a damaged or foreign file is not trusted (one warning, nothing withdrawn)", async () => {
    await store.write(new Map());
    for (const text of [
      "{not json",
      '{"v":2,"names":{}}',
      '{"v":1,"names":{"x":{"vmid":"101","origin":"file"}}}',
    ]) {
      await writeFile(store.file, text);
      expect(await store.read()).toBeUndefined();
    }
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/claimed-names\.json: not a registry this version reads/);
  });
});
