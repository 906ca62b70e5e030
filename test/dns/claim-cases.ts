import { expect, it } from "vitest";
import type { Claim } from "../../lib/dns/changes.ts";
import { createDnsClient, type DnsClient } from "../../lib/dns/client.ts";
import { dig } from "../support/named.ts";
import type { CaseContext } from "./cases.ts";
import { racingRelay } from "./fake-servers.ts";
import { dnsConfig, master, OWNER, secretOf } from "./fixtures.ts";

// Guest names against a real master (BIND and Knot): the ownership TXT names
// the VM, the rules of lib/dns/claims.ts decide who may write a name, and a
// withdrawal deletes only while our TXT still names the VM. Checked with dig.

const OLD_TXT = `"heritage=pvemigrate-dns,owner=${OWNER}"`;
const txtOf = (vmid: number) => `"heritage=pvemigrate-dns,owner=${OWNER},vm=${vmid}"`;
const file = (vmid: number): Claim => ({ vmid, origin: "file" });
const notes = (vmid: number): Claim => ({ vmid, origin: "notes" });

export function claimCases(ctx: CaseContext): void {
  const done = ctx.lateAnswers ? /^(updated|unchanged)$/ : /^updated$/;
  const gone = ctx.lateAnswers ? /^(withdrawn|absent)$/ : /^withdrawn$/;
  const set = (c: DnsClient, name: string, a: string, claim?: Claim) =>
    c.setAddresses([{ name, a: [a], aaaa: [], ...(claim ? { claim } : {}) }]);

  it("a guest's new name gets the TXT naming its VM (heritage, owner, vm)", async () => {
    const r = await set(ctx.client(), "claim-new.example.org", "203.0.113.10", notes(301));
    expect(r.outcomes[0]?.status).toMatch(done);
    expect(await dig(ctx.port(), "claim-new.example.org", "TXT")).toEqual([txtOf(301)]);
    expect(await dig(ctx.port(), "claim-new.example.org", "A")).toEqual(["203.0.113.10"]);
  });

  it("a name in today's format (no vm=) is adopted by a file claim, its TXT rewritten with the VM", async () => {
    const c = ctx.client();
    await set(c, "claim-old.example.org", "203.0.113.10");
    expect(await dig(ctx.port(), "claim-old.example.org", "TXT")).toEqual([OLD_TXT]);
    const r = await set(c, "claim-old.example.org", "198.51.100.20", file(302));
    expect(r.outcomes[0]?.status).toMatch(done);
    expect(await dig(ctx.port(), "claim-old.example.org", "TXT")).toEqual([txtOf(302)]);
    expect(await dig(ctx.port(), "claim-old.example.org", "A")).toEqual(["198.51.100.20"]);
    // Same addresses, unlabelled: the TXT alone is rewritten.
    await set(c, "claim-same.example.org", "203.0.113.10");
    expect((await set(c, "claim-same.example.org", "203.0.113.10", file(302))).outcomes[0]?.status).toMatch(
      done,
    );
    expect(await dig(ctx.port(), "claim-same.example.org", "TXT")).toEqual([txtOf(302)]);
  });

  it("a Notes claim is refused on an unlabelled name and on another VM's name; nothing changes", async () => {
    const c = ctx.client();
    await set(c, "claim-legacy.example.org", "203.0.113.10");
    await set(c, "claim-taken.example.org", "203.0.113.10", file(303));
    const r = await c.setAddresses([
      { name: "claim-legacy.example.org", a: ["192.0.2.66"], aaaa: [], claim: notes(399) },
      { name: "claim-taken.example.org", a: ["192.0.2.66"], aaaa: [], claim: notes(399) },
    ]);
    expect(r.outcomes).toMatchObject([
      { status: "refused", reason: expect.stringMatching(/without a VM label/) },
      { status: "refused", reason: "belongs to VM 303; a Notes block cannot take it" },
    ]);
    expect(r.acceptedBy).toEqual([]);
    expect(await dig(ctx.port(), "claim-legacy.example.org", "A")).toEqual(["203.0.113.10"]);
    expect(await dig(ctx.port(), "claim-legacy.example.org", "TXT")).toEqual([OLD_TXT]);
    expect(await dig(ctx.port(), "claim-taken.example.org", "A")).toEqual(["203.0.113.10"]);
    expect(await dig(ctx.port(), "claim-taken.example.org", "TXT")).toEqual([txtOf(303)]);
  });

  it("a file claim takes a name over from a VM that no longer claims it", async () => {
    const c = ctx.client();
    await set(c, "claim-move.example.org", "203.0.113.10", file(304));
    expect((await set(c, "claim-move.example.org", "198.51.100.20", file(305))).outcomes[0]?.status).toMatch(
      done,
    );
    expect(await dig(ctx.port(), "claim-move.example.org", "TXT")).toEqual([txtOf(305)]);
    expect(await dig(ctx.port(), "claim-move.example.org", "A")).toEqual(["198.51.100.20"]);
  });

  it("a withdrawal deletes A, AAAA and the TXT only while the TXT still names that VM", async () => {
    const c = ctx.client();
    await c.setAddresses([
      { name: "wd.example.org", a: ["203.0.113.10"], aaaa: ["2001:db8::10"], claim: notes(306) },
    ]);
    await set(c, "wd-other.example.org", "203.0.113.10", notes(307));
    await set(c, "wd-old.example.org", "203.0.113.10");
    expect(await c.withdrawName("wd-other.example.org", 306)).toMatchObject({
      status: "kept",
      reason: "now labelled for VM 307",
    });
    expect(await c.withdrawName("wd-old.example.org", 306)).toMatchObject({
      status: "kept",
      reason: "our TXT there names no VM",
    });
    expect(await c.withdrawName("legacy.example.org", 306)).toMatchObject({ status: "kept" });
    expect((await c.withdrawName("wd.example.org", 306)).status).toMatch(gone);
    for (const type of ["A", "AAAA", "TXT"])
      expect(await dig(ctx.port(), "wd.example.org", type)).toEqual([]);
    expect(await c.withdrawName("wd.example.org", 306)).toMatchObject({ status: "absent" });
    expect(await dig(ctx.port(), "wd-other.example.org", "A")).toEqual(["203.0.113.10"]);
    expect(await dig(ctx.port(), "wd-old.example.org", "A")).toEqual(["203.0.113.10"]);
    expect(await dig(ctx.port(), "legacy.example.org", "A")).toEqual(["192.0.2.7"]);
  });

  it("compare-and-swap: another VM takes the name between our read and our delete; nothing is deleted", async () => {
    const direct = ctx.client();
    await set(direct, "wd-race.example.org", "203.0.113.10", file(308));
    // A file claim of VM 309 lands after the withdrawal read the name as VM 308's.
    const relay = await racingRelay(ctx.port(), async () => {
      await set(direct, "wd-race.example.org", "198.51.100.20", file(309));
    });
    try {
      const viaRelay = createDnsClient({
        dns: dnsConfig([master(relay.port)], ctx.key()),
        tsigSecret: secretOf(ctx.key()),
      });
      expect(await viaRelay.withdrawName("wd-race.example.org", 308)).toMatchObject({
        status: "kept",
        reason: "now labelled for VM 309",
      });
    } finally {
      await relay.close();
    }
    expect(await dig(ctx.port(), "wd-race.example.org", "A")).toEqual(["198.51.100.20"]);
    expect(await dig(ctx.port(), "wd-race.example.org", "TXT")).toEqual([txtOf(309)]);
  });
}
