import { describe, expect, it } from "vitest";
import {
  batchWrites,
  formForExpectation,
  type NameState,
  type NameWrite,
  normalizeAddresses,
  normalizeName,
  ownershipTxt,
  planAfterPrereqFailure,
  planFromState,
  sectionsFor,
} from "../../lib/dns/changes.ts";
import { InputError } from "../../lib/errors.ts";

const TXT = ownershipTxt("c1");
const state = (s: Partial<NameState>): NameState => ({
  exists: true,
  a: [],
  aaaa: [],
  txt: [],
  owned: false,
  ...s,
});
const owned = (a: string[], aaaa: string[] = [], extraTxt: string[] = []) =>
  state({ a, aaaa, txt: [TXT, ...extraTxt], owned: true });

describe("input normalization", () => {
  it("canonicalizes and splits addresses, naming the field on bad input", () => {
    expect(normalizeAddresses(["2001:DB8:0::1", "192.0.2.1", "192.0.2.1"], "f")).toEqual({
      a: ["192.0.2.1"],
      aaaa: ["2001:db8::1"],
    });
    expect(() => normalizeAddresses(["192.0.2.300"], "changes[0].addresses")).toThrow(
      new InputError('changes[0].addresses: "192.0.2.300" is not an IPv4 or IPv6 address'),
    );
  });

  it("lower-cases names, keeps them inside the zone and LDH", () => {
    expect(normalizeName("Mail.Example.ORG.", "example.org", "n")).toBe("mail.example.org");
    expect(normalizeName("_acme-challenge.example.org", "example.org", "n")).toBe(
      "_acme-challenge.example.org",
    );
    expect(() => normalizeName("mail.example.com", "example.org", "FQDN")).toThrow(
      /FQDN: .*not inside the zone/,
    );
    expect(() => normalizeName("bad_name.example.org", "example.org", "FQDN")).toThrow(
      /not a valid DNS name/,
    );
    expect(() => normalizeName("-x.example.org", "example.org", "FQDN")).toThrow(/not a valid DNS name/);
    expect(() => normalizeName("a; rm -rf /.example.org", "example.org", "FQDN")).toThrow(InputError);
  });
});

describe("write sections", () => {
  it("creates a new name only if it is not in use, with our TXT", () => {
    const s = sectionsFor(
      { name: "n.example.org", desired: { a: ["192.0.2.1"], aaaa: [] }, form: { kind: "create" } },
      60,
      TXT,
    );
    expect(s.prerequisites).toEqual([{ kind: "nameAbsent", name: "n.example.org" }]);
    expect(s.updates).toEqual([
      { kind: "add", name: "n.example.org", ttl: 60, rdata: { type: "TXT", text: TXT } },
      { kind: "add", name: "n.example.org", ttl: 60, rdata: { type: "A", address: "192.0.2.1" } },
    ]);
  });

  it("replaces with compare-and-swap on the TXT set and the expected addresses", () => {
    const write: NameWrite = {
      name: "n.example.org",
      desired: { a: ["198.51.100.20"], aaaa: [] },
      form: { kind: "replace", expect: { a: ["203.0.113.10"], aaaa: [] }, txt: [TXT] },
    };
    const s = sectionsFor(write, 30, TXT);
    expect(s.prerequisites).toEqual([
      { kind: "rrsetEquals", name: "n.example.org", rdata: [{ type: "TXT", text: TXT }] },
      { kind: "rrsetEquals", name: "n.example.org", rdata: [{ type: "A", address: "203.0.113.10" }] },
      { kind: "rrsetAbsent", name: "n.example.org", type: "AAAA" },
    ]);
    expect(s.updates).toEqual([
      { kind: "deleteRRset", name: "n.example.org", type: "A" },
      { kind: "deleteRRset", name: "n.example.org", type: "AAAA" },
      // The TXT set (pinned by the prerequisite) written again: it takes the TTL of the addresses.
      { kind: "deleteRRset", name: "n.example.org", type: "TXT" },
      { kind: "add", name: "n.example.org", ttl: 30, rdata: { type: "TXT", text: TXT } },
      { kind: "add", name: "n.example.org", ttl: 30, rdata: { type: "A", address: "198.51.100.20" } },
    ]);
  });

  it("picks create for an expectation of nothing, replace otherwise", () => {
    expect(formForExpectation({ a: [], aaaa: [] }, TXT)).toEqual({ kind: "create" });
    expect(formForExpectation({ a: ["192.0.2.1"], aaaa: [] }, TXT)).toMatchObject({
      kind: "replace",
      txt: [TXT],
    });
  });
});

describe("planning from the current state", () => {
  const desired = { a: ["192.0.2.1"], aaaa: [] };
  it("creates a name that holds nothing we manage", () => {
    expect(planFromState("n", desired, state({ exists: false }))).toMatchObject({
      kind: "write",
      write: { form: { kind: "create" } },
    });
  });
  it("never touches a name with records but without our TXT", () => {
    expect(planFromState("n", desired, state({ a: ["192.0.2.9"] }))).toEqual({ kind: "not-owned" });
    expect(planFromState("n", desired, state({ txt: ["v=spf1 -all"] }))).toEqual({ kind: "not-owned" });
  });
  it("swaps an owned name against what it holds, keeping foreign TXT in the prerequisite", () => {
    const plan = planFromState("n", desired, owned(["192.0.2.9"], [], ["other"]));
    expect(plan).toMatchObject({
      kind: "write",
      write: { form: { kind: "replace", expect: { a: ["192.0.2.9"] }, txt: [TXT, "other"] } },
    });
  });
  it("does nothing when the name already holds the desired addresses", () => {
    expect(planFromState("n", desired, owned(["192.0.2.1"]))).toEqual({ kind: "unchanged" });
  });
});

describe("changing only the TTL", () => {
  const desired = { a: ["192.0.2.1"], aaaa: [] };
  const served = (ttl: number) => ({ ...owned(["192.0.2.1"]), ttl });

  it("is a compare-and-swap write on the same value, its TXT rewritten with the new TTL", () => {
    const plan = planFromState("n.example.org", desired, served(60), 5);
    expect(plan).toEqual({
      kind: "write",
      write: {
        name: "n.example.org",
        desired,
        ttl: 5,
        form: { kind: "replace", expect: served(60), txt: [TXT] },
      },
    });
    if (plan.kind !== "write") throw new Error("no write");
    const s = sectionsFor(plan.write, 60, TXT);
    expect(s.prerequisites).toContainEqual({
      kind: "rrsetEquals",
      name: "n.example.org",
      rdata: [{ type: "A", address: "192.0.2.1" }],
    });
    expect(s.updates.filter((u) => u.kind === "add")).toEqual([
      { kind: "add", name: "n.example.org", ttl: 5, rdata: { type: "TXT", text: TXT } },
      { kind: "add", name: "n.example.org", ttl: 5, rdata: { type: "A", address: "192.0.2.1" } },
    ]);
  });

  it("is no write when the TTL already matches, or when no TTL is asked for", () => {
    expect(planFromState("n", desired, served(5), 5)).toEqual({ kind: "unchanged" });
    expect(planFromState("n", desired, served(60))).toEqual({ kind: "unchanged" });
  });

  it("a lost reply of a TTL write is done only once the TTL is there too", () => {
    const write: NameWrite = {
      name: "n",
      desired,
      ttl: 5,
      form: { kind: "replace", expect: desired, txt: [TXT] },
    };
    expect(planAfterPrereqFailure(write, served(5), false)).toEqual({ kind: "unchanged" });
    // The TXT set differed from the assumption: swap again against what is there.
    expect(planAfterPrereqFailure(write, { ...served(60), txt: [TXT, "x"] }, false)).toMatchObject({
      kind: "retry",
      write: { ttl: 5, form: { kind: "replace", txt: [TXT, "x"] } },
    });
  });
});

describe("after a failed prerequisite", () => {
  const write: NameWrite = {
    name: "n",
    desired: { a: ["198.51.100.20"], aaaa: [] },
    form: { kind: "replace", expect: { a: ["203.0.113.10"], aaaa: [] }, txt: [TXT] },
  };
  it("treats a name already holding the new value as done (a lost UDP reply)", () => {
    expect(planAfterPrereqFailure(write, owned(["198.51.100.20"]), false)).toEqual({ kind: "unchanged" });
  });
  it("reports a stale expectation", () => {
    expect(planAfterPrereqFailure(write, owned(["192.0.2.77"]), false)).toEqual({ kind: "stale" });
  });
  it("reports a name someone else owns", () => {
    expect(planAfterPrereqFailure(write, state({ a: ["203.0.113.10"] }), false)).toEqual({
      kind: "not-owned",
    });
  });
  it("retries once when only the TXT set differed from the assumption", () => {
    const plan = planAfterPrereqFailure(write, owned(["203.0.113.10"], [], ["foreign"]), false);
    expect(plan).toMatchObject({
      kind: "retry",
      write: { form: { kind: "replace", txt: [TXT, "foreign"] } },
    });
    expect(planAfterPrereqFailure(write, owned(["203.0.113.10"], [], ["foreign"]), true)).toEqual({
      kind: "stale",
    });
  });
  it("retries a create as a replace when the owned name exists without addresses", () => {
    const create: NameWrite = {
      name: "n",
      desired: { a: ["192.0.2.1"], aaaa: [] },
      form: { kind: "create" },
    };
    expect(planAfterPrereqFailure(create, owned([]), false)).toMatchObject({
      kind: "retry",
      write: { form: { kind: "replace" } },
    });
  });
});

describe("batching", () => {
  it("packs greedily by encoded size, a too-big item alone", () => {
    const size = (b: number[]) => b.reduce((s, x) => s + x, 0);
    expect(batchWrites([100, 200, 300, 250, 900, 10], size, 600)).toEqual([
      [100, 200, 300],
      [250],
      [900],
      [10],
    ]);
    expect(batchWrites([], size, 600)).toEqual([]);
  });
});
