import { describe, expect, it } from "vitest";
import { ownershipTxt } from "../../lib/dns/ownership.ts";
import { type DnsWant, type NameRead, planDns } from "../../lib/plan/dns.ts";

// The DNS plan with the ownership rules, pure: what `plan` shows is the very
// write the write path sends (its compare-and-swap expectation is what was read).

const settings = { ownerId: "c1", zone: "example.org" };
const want = (vmid: number, name: string, origin: "file" | "notes" = "file"): DnsWant => ({
  vmid,
  name,
  a: ["198.51.100.20"],
  aaaa: [],
  ttl: 60,
  claim: { vmid, origin },
});
const held = (txt: string[], a = ["203.0.113.10"]): NameRead => ({
  exists: true,
  a,
  aaaa: [],
  txt,
  owned: true,
  ttl: 60,
  master: "127.0.0.1:53",
});

describe("planDns with claims", () => {
  it("a free name is created with the VM's label; the write is the plan's", () => {
    const plan = planDns([want(101, "new.example.org")], new Map(), settings);
    expect(plan.changes).toEqual([
      { op: "add", backend: "dns", vmid: 101, key: "new.example.org", after: "198.51.100.20" },
    ]);
    expect(plan.writes).toEqual([
      {
        name: "new.example.org",
        desired: { a: ["198.51.100.20"], aaaa: [] },
        claim: { vmid: 101, origin: "file" },
        form: { kind: "create", label: ownershipTxt("c1", 101) },
        ttl: 60,
      },
    ]);
  });

  it("a name of another VM is swapped against exactly what was read, and relabelled (file claim)", () => {
    const read = new Map([["mail.example.org", held([ownershipTxt("c1", 102)])]]);
    const plan = planDns([want(101, "mail.example.org")], read, settings);
    expect(plan.changes).toEqual([
      {
        op: "update",
        backend: "dns",
        vmid: 101,
        key: "mail.example.org",
        before: "203.0.113.10",
        after: "198.51.100.20",
        note: "ownership -> vm=101",
      },
    ]);
    expect(plan.writes[0]?.form).toEqual({
      kind: "replace",
      expect: { a: ["203.0.113.10"], aaaa: [] },
      txt: [ownershipTxt("c1", 102)],
      relabel: { remove: [ownershipTxt("c1", 102)], add: ownershipTxt("c1", 101) },
    });
  });

  it("a Notes claim on another VM's name is refused: a warning, no change, no write", () => {
    const read = new Map([["mail.example.org", held([ownershipTxt("c1", 102)])]]);
    const plan = planDns([want(101, "mail.example.org", "notes")], read, settings);
    expect(plan.changes).toEqual([]);
    expect(plan.writes).toEqual([]);
    expect(plan.warnings).toEqual([
      "mail.example.org: not written for VM 101: it belongs to VM 102; a Notes block cannot take it",
    ]);
    expect(plan.settled).toEqual([expect.objectContaining({ name: "mail.example.org", status: "refused" })]);
  });

  it("a name already right is settled as unchanged, with the master it was read at", () => {
    const read = new Map([["mail.example.org", held([ownershipTxt("c1", 101)], ["198.51.100.20"])]]);
    const plan = planDns([want(101, "mail.example.org")], read, settings);
    expect(plan.changes).toEqual([]);
    expect(plan.settled).toEqual([
      {
        name: "mail.example.org",
        status: "unchanged",
        master: "127.0.0.1:53",
        a: ["198.51.100.20"],
        aaaa: [],
      },
    ]);
  });

  it("a name outside the zone is bad input naming it", () => {
    expect(() => planDns([want(101, "mail.example.com")], new Map(), settings)).toThrow(/mail\.example\.com/);
  });
});
