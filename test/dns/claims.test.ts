import { describe, expect, it } from "vitest";
import { type Claim, type NameState, sectionsFor, withdrawSectionsFor } from "../../lib/dns/changes.ts";
import {
  type ClaimRecord,
  decideClaim,
  planClaim,
  planClaimAfterFailure,
  registryRefusal,
} from "../../lib/dns/claims.ts";
import { isOwned, type NameOwner, nameOwner, ownershipTxt } from "../../lib/dns/ownership.ts";

// PURE: who may write a guest's name, as a table over (what the TXT says,
// where the claim comes from), and the sections that relabel or withdraw it.

const OWNER = "c1";
const OLD = ownershipTxt(OWNER);
const vmTxt = (vmid: number) => ownershipTxt(OWNER, vmid);
const state = (s: Partial<NameState>): NameState => ({
  exists: true,
  a: [],
  aaaa: [],
  txt: [],
  owned: isOwned(s.txt ?? [], OWNER),
  ...s,
});
const file = (vmid: number): Claim => ({ vmid, origin: "file" });
const notes = (vmid: number): Claim => ({ vmid, origin: "notes" });

describe("the ownership TXT", () => {
  it("keeps today's format and adds the guest", () => {
    expect(ownershipTxt(OWNER)).toBe("heritage=pvemigrate-dns,owner=c1");
    expect(ownershipTxt(OWNER, 101)).toBe("heritage=pvemigrate-dns,owner=c1,vm=101");
  });

  it.each<[string, string[], string[], NameOwner]>([
    ["nothing at all", [], [], { kind: "free" }],
    ["someone else's A", ["192.0.2.7"], [], { kind: "foreign" }],
    ["someone else's TXT only", [], ["v=spf1 -all"], { kind: "foreign" }],
    ["another cluster's marker", ["192.0.2.7"], [ownershipTxt("c2", 101)], { kind: "foreign" }],
    [
      "a look-alike with a bad vm",
      ["192.0.2.7"],
      [`${OLD},vm=0`, `${OLD},vm=1x`, `${OLD},vm=1,x=2`],
      { kind: "foreign" },
    ],
    ["today's format", ["192.0.2.7"], [OLD, "v=spf1 -all"], { kind: "unlabelled", ours: [OLD] }],
    ["one guest", ["192.0.2.7"], [vmTxt(101)], { kind: "vm", vmid: 101, ours: [vmTxt(101)] }],
    [
      "one guest plus today's format",
      [],
      [OLD, vmTxt(101)],
      { kind: "vm", vmid: 101, ours: [OLD, vmTxt(101)] },
    ],
    [
      "two guests",
      [],
      [vmTxt(102), vmTxt(101)],
      { kind: "contested", vmids: [101, 102], ours: [vmTxt(102), vmTxt(101)] },
    ],
  ])("reads %s", (_what, a, txt, expected) => {
    expect(nameOwner({ a, aaaa: [], txt }, OWNER)).toEqual(expected);
  });
});

describe("who may write a guest's name", () => {
  const free: NameOwner = { kind: "free" };
  const foreign: NameOwner = { kind: "foreign" };
  const old: NameOwner = { kind: "unlabelled", ours: [OLD] };
  const own: NameOwner = { kind: "vm", vmid: 101, ours: [vmTxt(101)] };
  const other: NameOwner = { kind: "vm", vmid: 202, ours: [vmTxt(202)] };
  const several: NameOwner = { kind: "contested", vmids: [101, 202], ours: [] };
  it.each<[string, NameOwner, string, string]>([
    ["a free name", free, "take:create", "take:create"],
    ["someone else's name", foreign, "not-owned", "not-owned"],
    ["a name in today's format", old, "take:adopt", "refuse"],
    ["its own name", own, "take:keep", "take:keep"],
    ["another VM's name", other, "take:take-over", "refuse"],
    ["a name labelled for several VMs", several, "take:take-over", "refuse"],
  ])("%s: file claim -> %s, Notes claim -> %s", (_what, owner, byFile, byNotes) => {
    const show = (d: ReturnType<typeof decideClaim>) => (d.kind === "take" ? `take:${d.how}` : d.kind);
    expect(show(decideClaim(file(101), owner))).toBe(byFile);
    expect(show(decideClaim(notes(101), owner))).toBe(byNotes);
  });

  it("says why a Notes claim is refused", () => {
    expect(decideClaim(notes(101), other)).toEqual({
      kind: "refuse",
      reason: "belongs to VM 202; a Notes block cannot take it",
    });
  });
});

describe("planning a guest's write", () => {
  const desired = { a: ["198.51.100.20"], aaaa: [] };
  it("creates a free name with the guest's label", () => {
    expect(planClaim("n", desired, state({ exists: false }), notes(101), OWNER)).toEqual({
      kind: "write",
      write: { name: "n", desired, claim: notes(101), form: { kind: "create", label: vmTxt(101) } },
    });
  });

  it("adopts today's format: compare-and-swap on what is there, our old TXT swapped for the label", () => {
    const plan = planClaim("n", desired, state({ a: ["203.0.113.10"], txt: [OLD, "x"] }), file(101), OWNER);
    expect(plan).toEqual({
      kind: "write",
      write: {
        name: "n",
        desired,
        claim: file(101),
        form: {
          kind: "replace",
          expect: { a: ["203.0.113.10"], aaaa: [] },
          txt: [OLD, "x"],
          relabel: { remove: [OLD], add: vmTxt(101) },
        },
      },
    });
    if (plan.kind !== "write") throw new Error("no write");
    expect(sectionsFor(plan.write, 60, OLD)).toEqual({
      prerequisites: [
        { kind: "rrsetEquals", name: "n", rdata: [OLD, "x"].map((text) => ({ type: "TXT", text })) },
        { kind: "rrsetEquals", name: "n", rdata: [{ type: "A", address: "203.0.113.10" }] },
        { kind: "rrsetAbsent", name: "n", type: "AAAA" },
      ],
      updates: [
        { kind: "deleteRRset", name: "n", type: "A" },
        { kind: "deleteRRset", name: "n", type: "AAAA" },
        // The TXT set rewritten whole: someone's "x" kept, our old marker swapped for the label.
        { kind: "deleteRRset", name: "n", type: "TXT" },
        { kind: "add", name: "n", ttl: 60, rdata: { type: "TXT", text: "x" } },
        { kind: "add", name: "n", ttl: 60, rdata: { type: "TXT", text: vmTxt(101) } },
        { kind: "add", name: "n", ttl: 60, rdata: { type: "A", address: "198.51.100.20" } },
      ],
    });
  });

  it("relabels even when the addresses are already right; nothing to do once labelled", () => {
    const same = state({ a: ["198.51.100.20"], txt: [OLD] });
    expect(planClaim("n", desired, same, file(101), OWNER)).toMatchObject({
      kind: "write",
      write: { form: { relabel: { remove: [OLD], add: vmTxt(101) } } },
    });
    const labelled = state({ a: ["198.51.100.20"], txt: [vmTxt(101)] });
    expect(planClaim("n", desired, labelled, notes(101), OWNER)).toEqual({ kind: "unchanged" });
  });

  it("keeps its own label (no relabel), moves the addresses", () => {
    const plan = planClaim(
      "n",
      desired,
      state({ a: ["203.0.113.10"], txt: [vmTxt(101)] }),
      notes(101),
      OWNER,
    );
    expect(plan).toMatchObject({ kind: "write", write: { form: { kind: "replace", txt: [vmTxt(101)] } } });
    expect(plan.kind === "write" && plan.write.form.kind === "replace" && plan.write.form.relabel).toBe(
      undefined,
    );
  });

  it("rewrites its own name served with another TTL (same addresses, CAS on them), not a refused one", () => {
    const mine = { ...state({ a: ["198.51.100.20"], txt: [vmTxt(101)] }), ttl: 60 };
    expect(planClaim("n", desired, mine, notes(101), OWNER, 5)).toMatchObject({
      kind: "write",
      write: { ttl: 5, form: { kind: "replace", expect: desired, txt: [vmTxt(101)] } },
    });
    expect(planClaim("n", desired, { ...mine, ttl: 5 }, notes(101), OWNER, 5)).toEqual({ kind: "unchanged" });
    const theirs = { ...mine, txt: [vmTxt(202)] };
    expect(planClaim("n", desired, theirs, notes(101), OWNER, 5)).toMatchObject({ kind: "refused" });
  });

  it("refuses a Notes claim on another VM's name, and never writes someone else's", () => {
    const theirs = state({ a: ["203.0.113.10"], txt: [vmTxt(202)] });
    expect(planClaim("n", desired, theirs, notes(101), OWNER)).toMatchObject({ kind: "refused" });
    expect(planClaim("n", desired, state({ a: ["192.0.2.7"] }), file(101), OWNER)).toEqual({
      kind: "not-owned",
    });
  });

  it("after a failed prerequisite, decides again on what is there now", () => {
    const plan = planClaim("n", desired, state({ exists: false }), notes(101), OWNER);
    if (plan.kind !== "write") throw new Error("no write");
    // Another VM created it meanwhile: a Notes claim must not retry against that.
    const taken = state({ a: ["203.0.113.30"], txt: [vmTxt(202)] });
    expect(planClaimAfterFailure(plan.write, notes(101), taken, false, OWNER)).toMatchObject({
      kind: "refused",
    });
    // Our own label, other addresses: one retry, then stale.
    const moved = state({ a: ["203.0.113.30"], txt: [vmTxt(101)] });
    expect(planClaimAfterFailure(plan.write, notes(101), moved, false, OWNER)).toMatchObject({
      kind: "retry",
      write: { form: { kind: "replace", expect: { a: ["203.0.113.30"] } } },
    });
    expect(planClaimAfterFailure(plan.write, notes(101), moved, true, OWNER)).toEqual({ kind: "stale" });
    // Free by A/AAAA/TXT yet the create failed: other record types hold the name.
    expect(planClaimAfterFailure(plan.write, notes(101), state({}), false, OWNER)).toEqual({
      kind: "not-owned",
    });
  });
});

describe("the registry's rule for Notes claims", () => {
  const held = (vmid: number, origin: ClaimRecord["origin"]): ClaimRecord => ({ vmid, origin });
  const tomb = (vmid: number): ClaimRecord => ({ vmid, origin: "file", withdrawnAt: 1 });
  it.each<[string, ClaimRecord | undefined, Claim, boolean]>([
    ["an unknown name", undefined, notes(101), true],
    ["its own name", held(101, "notes"), notes(101), true],
    ["its own name the file gave it", held(101, "file"), notes(101), true],
    ["another VM's name", held(202, "notes"), notes(101), false],
    ["a name the file gave and withdrew", tomb(202), notes(101), false],
    ["a name the file once gave to this very VM", tomb(101), notes(101), false],
    ["another VM's name, claimed by the file", held(202, "notes"), file(101), true],
    ["a withdrawn file name, claimed by the file", tomb(202), file(101), true],
  ])("%s: allowed %s", (_what, record, claim, allowed) => {
    expect(registryRefusal(claim, record) === undefined).toBe(allowed);
  });
});

describe("withdrawal sections", () => {
  it("compare-and-swap on the TXT set and the addresses; deletes A, AAAA and our TXT only", () => {
    const s = withdrawSectionsFor("n", { a: ["203.0.113.10"], aaaa: [], txt: [vmTxt(101), "x"] }, [
      vmTxt(101),
    ]);
    expect(s.prerequisites).toEqual([
      { kind: "rrsetEquals", name: "n", rdata: [vmTxt(101), "x"].map((text) => ({ type: "TXT", text })) },
      { kind: "rrsetEquals", name: "n", rdata: [{ type: "A", address: "203.0.113.10" }] },
      { kind: "rrsetAbsent", name: "n", type: "AAAA" },
    ]);
    expect(s.updates).toEqual([
      { kind: "deleteRRset", name: "n", type: "A" },
      { kind: "deleteRRset", name: "n", type: "AAAA" },
      { kind: "deleteRR", name: "n", rdata: { type: "TXT", text: vmTxt(101) } },
    ]);
  });
});
