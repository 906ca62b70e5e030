import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../lib/config/types.ts";
import { planAdopt } from "../../lib/dns/adopt.ts";
import { adoptClaim, notesOffEverywhere, notesPolicyRefusal } from "../../lib/dns/adopt-claim.ts";
import type { Claim } from "../../lib/dns/changes.ts";
import { ownershipTxt } from "../../lib/dns/ownership.ts";
import { ExitCode } from "../../lib/errors.ts";
import { reconcile } from "../../lib/orchestrate/reconcile.ts";
import { cli } from "../cli/run.ts";
import { type Harness, startHarness } from "../e2e/harness.ts";
import { dig } from "../support/named.ts";
import { missing } from "../support/requirements.ts";

// `dns adopt NAME` for a name a guest claims in its Notes: the claimant is
// found as the reconcile finds it (observe's merge, claimsOf), the file's
// Notes policy is the only door (names outside it are refused before any
// request), and a Notes claim adopts no more than the reconcile would write.

const TAG = "pvemigrate-dns";
const OWNER = "pvemigrate-dns";
const notesBlock = (dns: string[]) => `Tenant\n\n\`\`\`pvemigrate-dns\ndns: [ ${dns.join(", ")} ]\n\`\`\`\n`;

describe("adoptClaim and the Notes policy (pure)", () => {
  const policy = (notes: Partial<Config["notes"]>, vms: Config["vms"] = {}) =>
    ({
      dns: { zone: "example.org" },
      nodes: { pve1: {} },
      vms,
      notes: {
        enabled: true,
        dnsSuffixes: ["tenants.example.org"],
        ports: [],
        maxNames: 8,
        maxForwards: 8,
        ...notes,
      },
    }) as unknown as Config;
  it.each([
    ["a name under notes.dnsSuffixes may come from Notes", "a.tenants.example.org", undefined],
    ["a name outside them may not", "a.example.org", /not a subdomain of notes\.dnsSuffixes/],
    ["a node's host name may not", "pve1.example.org", /node pve1's host name/],
  ])("%s", (_what, name, want) => {
    const why = notesPolicyRefusal(policy({}), name);
    if (want === undefined) expect(why).toBeUndefined();
    else expect(why).toMatch(want);
  });

  it("Notes off everywhere unless notes.enabled or one VM's notesAllowed", () => {
    expect(notesOffEverywhere(policy({ enabled: false }))).toBe(true);
    const vm = { vmid: 7, dns: [], notesAllowed: true } as unknown as Config["vms"][string];
    expect(notesOffEverywhere(policy({ enabled: false }, { 7: vm }))).toBe(false);
    expect(notesOffEverywhere(policy({ enabled: true }))).toBe(false);
  });

  const notes = (vmid: number): Claim => ({ vmid, origin: "notes" });
  it.each([
    ["the merged claim is taken", new Map(), { claim: notes(110) }],
    [
      "a name the registry gives another VM is refused, as the reconcile refuses it",
      new Map([["n.tenants.example.org", { vmid: 102, origin: "file" as const }]]),
      {
        refusal:
          "n.tenants.example.org is claimed by VM 110's Notes, but it belongs to VM 102; a Notes block cannot take it",
      },
    ],
    [
      "a name the file gave before (tombstone) is refused",
      new Map([["n.tenants.example.org", { vmid: 110, origin: "file" as const, withdrawnAt: 1 }]]),
      { refusal: expect.stringMatching(/only the file can assign it again/) },
    ],
  ])("%s", (_what, registry, want) => {
    expect(
      adoptClaim(new Map([["n.tenants.example.org", notes(110)]]), registry, "n.tenants.example.org"),
    ).toEqual(want);
  });

  it("a Notes claim never adopts a name of ours written without a VM label (the reconcile refuses it too)", () => {
    const state = {
      name: "n.tenants.example.org",
      master: "127.0.0.1:53",
      exists: true,
      a: ["192.0.2.9"],
      aaaa: [],
      txt: [ownershipTxt(OWNER)],
      owned: true,
    };
    expect(planAdopt(state, OWNER, 110, "notes")).toMatchObject({
      status: "refused",
      reason: expect.stringMatching(/written without a VM label/),
    });
    expect(planAdopt(state, OWNER, 110, "file")).toMatchObject({ status: "unchanged" });
  });
});

describe.skipIf(missing({ bins: ["named", "dig", "tsig-keygen"] }))(
  "dns adopt of a name claimed in Notes",
  () => {
    let h: Harness;
    const records = async (name: string) => ({
      a: await dig(h.primary.port, name, "A"),
      txt: (await dig(h.primary.port, name, "TXT")).sort(),
    });
    const adopt = (name: string) =>
      cli(["--config", h.configFile, "dns", "adopt", name], undefined, { PVEMIGRATE_DNS_NODE: "pve1" });

    beforeAll(async () => {
      h = await startHarness({
        secondary: false,
        records: [
          "hand.tenants IN A 192.0.2.30",
          "outside IN A 192.0.2.31",
          "old.tenants IN A 192.0.2.32",
          `old.tenants IN TXT "${ownershipTxt(OWNER)}"`,
        ],
        config: (doc) => (doc.notes = { enabled: true, dnsSuffixes: ["tenants.example.org"], ip: "agent" }),
      });
      const tenant = (vmid: number, dns: string[]) =>
        h.sim.addVm({
          vmid,
          node: "pve1",
          tags: [TAG],
          config: { name: `vm${vmid}`, description: notesBlock(dns) },
        });
      tenant(110, ["hand.tenants.example.org"]);
      tenant(111, ["outside.example.org"]);
      tenant(112, ["old.tenants.example.org"]);
    }, 90_000);
    afterAll(async () => h?.stop());

    it("labels a hand-made name for the VM whose Notes claim it; the reconcile then serves it for that VM", async () => {
      const r = await adopt("hand.tenants.example.org");
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`adopted for VM 110: added TXT "${ownershipTxt(OWNER, 110)}"`);
      expect(await records("hand.tenants.example.org")).toEqual({
        a: ["192.0.2.30"],
        txt: [`"${ownershipTxt(OWNER, 110)}"`],
      });
      await reconcile(h.runtime("pve1"));
      expect(await dig(h.primary.port, "hand.tenants.example.org", "A")).toEqual(["203.0.113.10"]);
    });

    it("refuses a name the Notes policy does not allow, in one line, whatever a guest's Notes say", async () => {
      const before = await records("outside.example.org");
      const r = await adopt("outside.example.org");
      expect(r.code).toBe(ExitCode.invalid);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim().split("\n")).toEqual([
        "NAME: no VM in the config claims outside.example.org, and no VM's Notes may claim it: outside.example.org is not a subdomain of notes.dnsSuffixes (tenants.example.org)",
      ]);
      expect(await records("outside.example.org")).toEqual(before);
    });

    it("refuses to label a name of ours without a VM label for a Notes claim, and leaves it as it is", async () => {
      const before = await records("old.tenants.example.org");
      const r = await adopt("old.tenants.example.org");
      expect(r.code).toBe(ExitCode.invalid);
      expect(r.stderr).toMatch(
        /old\.tenants\.example\.org: not adopted: VM 112 claims it in its Notes, but it was written without a VM label/,
      );
      expect(await records("old.tenants.example.org")).toEqual(before);
    });

    it("a name no file entry and no accepted Notes block claims is refused", async () => {
      const r = await adopt("nobody.tenants.example.org");
      expect(r.code).toBe(ExitCode.invalid);
      expect(r.stderr).toContain(
        "NAME: no VM claims nobody.tenants.example.org, in the config file or in a Notes block the policy accepts",
      );
    });
  },
);
