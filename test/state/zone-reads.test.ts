import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ZoneReads } from "../../lib/dns/read-reuse.ts";
import { ZONE_READS_FILE, ZoneReadStore } from "../../lib/state/zone-reads.ts";

// The kept record of the last full read of the zone's names (lib/state/zone-reads.ts):
// it round-trips with the TSIG key it was read with, and a record that cannot
// say which key (written before the key was kept) is no record.

const record: ZoneReads = {
  zone: "example.org",
  master: "127.0.0.1:5300",
  key: "view-a (hmac-sha256)",
  serial: 7,
  readAt: 1_000,
  names: new Map([
    ["a.example.org", { exists: true, a: ["192.0.2.1"], aaaa: [], txt: [], owned: false, ttl: 60 }],
  ]),
};

describe("ZoneReadStore", () => {
  let dir: string;
  let warnings: string[];
  let store: ZoneReadStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "zone-reads-"));
    warnings = [];
    store = new ZoneReadStore(dir, (m) => warnings.push(m));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("reads back the record it wrote, with the TSIG key's label", async () => {
    await store.write(record);
    expect(await store.read()).toEqual(record);
    expect(warnings).toEqual([]);
  });

  it("takes a record of the format before the key was kept (version 1) as none, without a warning", async () => {
    await store.write(record);
    const file = join(dir, ZONE_READS_FILE);
    const { key: _key, ...v1 } = { ...JSON.parse(readFileSync(file, "utf8")), version: 1 };
    writeFileSync(file, JSON.stringify(v1));
    expect(await store.read()).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it("takes a current record without its key as none, and says so", async () => {
    await store.write(record);
    const file = join(dir, ZONE_READS_FILE);
    const { key: _key, ...keyless } = JSON.parse(readFileSync(file, "utf8"));
    writeFileSync(file, JSON.stringify(keyless));
    expect(await store.read()).toBeUndefined();
    expect(warnings).toEqual([
      `${file}: ignored (not a record of this version); the zone's names are read in full`,
    ]);
  });
});
