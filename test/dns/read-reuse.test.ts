import { describe, expect, it } from "vitest";
import type { NameState } from "../../lib/dns/changes.ts";
import {
  keyLabel,
  namesToRead,
  nextRecord,
  type SerialNow,
  type ZoneReads,
} from "../../lib/dns/read-reuse.ts";

// Which names a steady run reads, given the last run's record, the serial read
// now, the time and the full-read bound (lib/dns/read-reuse.ts).

const state = (a: string): NameState => ({
  exists: true,
  a: [a],
  aaaa: [],
  txt: ["ours"],
  owned: true,
  ttl: 60,
});
const MIN = 60_000;
const KEY_A = keyLabel({ name: "view-a.", algorithm: "hmac-sha256" });
const KEY_B = keyLabel({ name: "view-b.", algorithm: "hmac-sha256" });
const record: ZoneReads = {
  zone: "example.org",
  master: "127.0.0.1:5300",
  key: KEY_A,
  serial: 7,
  readAt: 1_000 * MIN,
  names: new Map([
    ["a.example.org", state("192.0.2.1")],
    ["b.example.org", state("192.0.2.2")],
  ]),
};
const soa: SerialNow = { zone: "example.org", master: "127.0.0.1:5300", key: KEY_A, serial: 7 };
const wanted = ["a.example.org", "b.example.org", "new.example.org"];
const at = (minutes: number) => record.readAt + minutes * MIN;

describe("namesToRead", () => {
  it.each<[string, ZoneReads | undefined, SerialNow | undefined, number, string]>([
    ["no record", undefined, soa, at(1), "no earlier read recorded"],
    ["no serial", record, undefined, at(1), "the zone's serial could not be read"],
    ["another zone", record, { ...soa, zone: "example.net" }, at(1), "the record is of zone example.org"],
    [
      "another master (failover)",
      record,
      { ...soa, master: "127.0.0.2:5300" },
      at(1),
      "read at 127.0.0.1:5300",
    ],
    // BIND views matched by key: view B's zone may carry the same serial as view A's, with other names.
    ["another TSIG key (another view)", record, { ...soa, key: KEY_B }, at(1), "read with key view-a"],
    [
      "the same key name with another algorithm",
      record,
      { ...soa, key: keyLabel({ name: "view-a.", algorithm: "hmac-sha512" }) },
      at(1),
      "signed with view-a (hmac-sha512) now",
    ],
    ["a bumped serial", record, { ...soa, serial: 8 }, at(1), "serial 7 is now 8"],
    ["a serial gone back", record, { ...soa, serial: 6 }, at(1), "serial 7 is now 6"],
    ["the bound reached", record, soa, at(10), "a full read is due"],
    ["a clock gone back", record, soa, at(-1), "a full read is due"],
  ])("reads every name on %s", (_, rec, now, time, why) => {
    const v = namesToRead(wanted, rec, now, time, 10 * MIN);
    expect(v).toMatchObject({ reuse: false, toRead: wanted });
    expect(v.reuse ? "" : v.why).toContain(why);
  });

  it("reads only the names the record lacks while the serial, master and zone are the same within the bound", () => {
    const v = namesToRead(wanted, record, soa, at(9), 10 * MIN);
    expect(v.toRead).toEqual(["new.example.org"]);
    expect(v.reuse && [...v.answers]).toEqual([
      ["a.example.org", state("192.0.2.1")],
      ["b.example.org", state("192.0.2.2")],
    ]);
  });

  it("reads every name with a bound of 0 (dns.fullReadMinutes: 0)", () => {
    expect(namesToRead(wanted, record, soa, at(0), 0).reuse).toBe(false);
  });
});

describe("keyLabel", () => {
  it("names the key by its name (case and final dot aside) and algorithm, and takes no secret", () => {
    expect(keyLabel({ name: "View-A.", algorithm: "hmac-sha256" })).toBe(KEY_A);
    expect(keyLabel({ name: "view-a", algorithm: "hmac-sha256" })).toBe(KEY_A);
    expect(KEY_A).not.toBe(KEY_B);
    // Handed the whole tsig config, the label still holds only name and algorithm.
    const tsig = {
      name: "view-a",
      algorithm: "hmac-sha256" as const,
      secretFile: "/etc/pvemigrate-dns/tsig.key",
    };
    expect(keyLabel(tsig)).toBe("view-a (hmac-sha256)");
  });
});

describe("nextRecord", () => {
  const fresh = new Map([["new.example.org", { ...state("192.0.2.3"), master: soa.master }]]);

  it("keeps the reused answers and the fresh ones, the bound still running from the full read", () => {
    const v = namesToRead(wanted, record, soa, at(5), 10 * MIN);
    const next = nextRecord(soa, v, fresh, at(5), record);
    expect(next?.readAt).toBe(record.readAt);
    expect(next?.serial).toBe(7);
    expect([...(next?.names.keys() ?? [])]).toEqual(wanted);
    // A step that asked for fewer names keeps the record's others (still true at the same serial).
    const fewer = namesToRead(["new.example.org"], record, soa, at(5), 10 * MIN);
    expect([...(nextRecord(soa, fewer, fresh, at(5), record)?.names.keys() ?? [])]).toEqual(wanted);
    expect(next?.names.get("new.example.org")).toEqual(state("192.0.2.3"));
  });

  it("records the key the serial and names were read with, so the next run can tell another key", () => {
    const v = namesToRead(wanted, record, { ...soa, key: KEY_B }, at(5), 10 * MIN);
    const next = nextRecord({ ...soa, key: KEY_B }, v, fresh, at(5), record);
    expect(next?.key).toBe(KEY_B);
    expect(namesToRead(wanted, next, soa, at(6), 10 * MIN).reuse).toBe(false);
  });

  it("starts the bound again after a full read", () => {
    const v = namesToRead(wanted, record, { ...soa, serial: 9 }, at(5), 10 * MIN);
    expect(nextRecord({ ...soa, serial: 9 }, v, fresh, at(5), record)).toMatchObject({
      serial: 9,
      readAt: at(5),
    });
  });

  it("keeps nothing when a name was read at another master than the serial, or without a serial", () => {
    const v = namesToRead(wanted, undefined, soa, at(5), 10 * MIN);
    const elsewhere = new Map([["new.example.org", { ...state("192.0.2.3"), master: "127.0.0.2:5300" }]]);
    expect(nextRecord(soa, v, elsewhere, at(5), undefined)).toBeUndefined();
    expect(nextRecord(undefined, v, fresh, at(5), undefined)).toBeUndefined();
  });
});
