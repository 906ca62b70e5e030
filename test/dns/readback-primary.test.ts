import { describe, expect, it } from "vitest";
import type { NameState, NameWrite } from "../../lib/dns/changes.ts";
import { candidateOrder, primaryCandidate } from "../../lib/dns/primary.ts";
import { deleteCheck, judgeWrite, withdrawCheck, writeCheck } from "../../lib/dns/readback.ts";

// Pure parts of points 3 and 4: which candidate the SOA MNAME names, and what
// a read-back after an ambiguous UPDATE means.

const OURS = "heritage=pvemigrate-dns,owner=t";
const state = (a: string[], txt: string[] = [OURS], exists = true): NameState => ({
  exists,
  a,
  aaaa: [],
  txt,
  owned: txt.includes(OURS),
});

describe("primaryCandidate (RFC 2136 section 4: the SOA MNAME is the primary)", () => {
  const masters = [
    { host: "127.0.0.2", port: 5300 },
    { host: "127.0.0.1", port: 5300 },
    { host: "ns1.example.org", port: 53 },
  ];
  it("a candidate whose host is the MNAME itself", () => {
    expect(primaryCandidate("NS1.example.org.", [], masters)).toBe(masters[2]);
  });
  it("else the candidate on one of the MNAME's addresses", () => {
    expect(primaryCandidate("ns9.example.org", ["127.0.0.1"], masters)).toBe(masters[1]);
  });
  it("none when nothing matches or two candidates share the address (a primary and a secondary on one host)", () => {
    expect(primaryCandidate("ns9.example.org", ["192.0.2.1"], masters)).toBeUndefined();
    const twoOnOneHost = [
      { host: "127.0.0.1", port: 5300 },
      { host: "127.0.0.1", port: 5301 },
    ];
    expect(primaryCandidate("ns1.example.org", ["127.0.0.1"], twoOnOneHost)).toBeUndefined();
  });
  it("orders the primary first, recently failed candidates last", () => {
    const [a, b, c] = masters as [(typeof masters)[0], (typeof masters)[0], (typeof masters)[0]];
    expect(candidateOrder(masters, c, () => false)).toEqual([c, a, b]);
    expect(candidateOrder(masters, c, (m) => m === c)).toEqual([a, b, c]);
    expect(candidateOrder(masters, undefined, (m) => m === a)).toEqual([b, c, a]);
  });
});

describe("read-back after an UPDATE without a trustworthy reply", () => {
  const move: NameWrite = {
    name: "x.example.org",
    desired: { a: ["192.0.2.2"], aaaa: [] },
    form: { kind: "replace", expect: { a: ["192.0.2.1"], aaaa: [] }, txt: [OURS] },
  };
  it("the new RRset means applied, the old one not applied, anything else unknown", () => {
    expect(judgeWrite(move, state(["192.0.2.2"]), OURS)).toBe("applied");
    expect(judgeWrite(move, state(["192.0.2.1"]), OURS)).toBe("not-applied");
    expect(judgeWrite(move, state(["192.0.2.9"]), OURS)).toBe("unknown");
    expect(judgeWrite(move, state(["192.0.2.2"], []), OURS)).toBe("unknown"); // someone removed our TXT
  });
  it("a write of the TTL only (same values): only the TTL read back tells it landed", () => {
    const same = { a: ["192.0.2.1"], aaaa: [] };
    const retime: NameWrite = {
      ...move,
      desired: same,
      ttl: 5,
      form: { kind: "replace", expect: same, txt: [OURS] },
    };
    expect(judgeWrite(retime, { ...state(["192.0.2.1"]), ttl: 5 }, OURS)).toBe("applied");
    expect(judgeWrite(retime, { ...state(["192.0.2.1"]), ttl: 60 }, OURS)).toBe("not-applied");
  });
  it("a create: the name absent means not applied; a relabel must show the new label", () => {
    const create: NameWrite = {
      name: "n.example.org",
      desired: { a: ["192.0.2.2"], aaaa: [] },
      form: { kind: "create", label: `${OURS},vm=7` },
    };
    expect(judgeWrite(create, state([], [], false), OURS)).toBe("not-applied");
    expect(judgeWrite(create, state(["192.0.2.2"], [`${OURS},vm=7`]), OURS)).toBe("applied");
    expect(judgeWrite(create, state(["192.0.2.2"], [OURS]), OURS)).toBe("unknown");
  });
  it("a batch is one message: applied only when every name shows it", () => {
    const other: NameWrite = { ...move, name: "y.example.org" };
    const check = writeCheck([move, other], OURS);
    const both = new Map([
      ["x.example.org", state(["192.0.2.2"])],
      ["y.example.org", state(["192.0.2.2"])],
    ]);
    expect(check.judge(both)).toBe("applied");
    expect(check.judge(new Map([...both, ["y.example.org", state(["192.0.2.1"])]]))).toBe("unknown");
  });
  it("delete and withdrawal: gone means applied, as read means not applied", () => {
    const del = deleteCheck("x.example.org", [OURS]);
    expect(del.judge(new Map([["x.example.org", state([], [], false)]]))).toBe("applied");
    expect(del.judge(new Map([["x.example.org", state(["192.0.2.1"])]]))).toBe("not-applied");
    const seen = { a: ["192.0.2.1"], aaaa: [], txt: [`${OURS},vm=7`, "v=spf1 -all"] };
    const w = withdrawCheck("x.example.org", seen, [`${OURS},vm=7`]);
    expect(w.judge(new Map([["x.example.org", state([], ["v=spf1 -all"])]]))).toBe("applied");
    expect(w.judge(new Map([["x.example.org", state(["192.0.2.1"], seen.txt)]]))).toBe("not-applied");
  });
});
