import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mergeNotes, NOTES_MAX_BYTES, NOTES_MAX_PROBLEMS } from "../../lib/config/notes.ts";
import type { Config } from "../../lib/config/types.ts";
import { configOf, type Doc, type Fixture, makeFixture, NOTES_POLICY as POLICY } from "./fixture.ts";

// The notes policy's names, ports and limits, as a tenant (VM.Config.Options)
// tries to reach beyond them: a block outside them is refused whole, and the
// report stays bounded however large the block.

let fx: Fixture;
let on: Config;
const load = (mutate: (d: Doc) => void) => configOf(fx, mutate);
beforeAll(async () => {
  fx = makeFixture();
  on = await load((d) => (d.notes = POLICY));
});
afterAll(() => fx.cleanup());

const notes = (yaml: string) =>
  `Shop VM, owned by team web.\n\n\`\`\`pvemigrate-dns\n${yaml}\n\`\`\`\nmore text\n`;

describe("names and ports outside the policy", () => {
  it("refuses new names in the zone, a node's host name, the apex and names outside the zone, and the whole block with them", () => {
    const r = mergeNotes(on, {
      110: notes(
        [
          "dns: [ login.example.org, pve1.example.org, app.tenants.example.org ]",
          "sni: [ example.org, accounts.google.com ]",
          "http: [ accounts.google.com ]",
        ].join("\n"),
      ),
    });
    expect(r.config.vms["110"]).toBeUndefined();
    expect(r.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      "vms.110 (Notes).dns[0]: login.example.org is not a subdomain of notes.dnsSuffixes (tenants.example.org)",
      "vms.110 (Notes).dns[1]: pve1.example.org is node pve1's host name",
      "vms.110 (Notes).sni[0]: example.org is not a subdomain of notes.dnsSuffixes (tenants.example.org)",
      "vms.110 (Notes).sni[1]: accounts.google.com is not a subdomain of notes.dnsSuffixes (tenants.example.org)",
      "vms.110 (Notes).http[0]: accounts.google.com is not a subdomain of notes.dnsSuffixes (tenants.example.org)",
    ]);
  });

  it("a suffix is not itself a claimable name, and a node's host name stays refused under a zone-wide suffix", async () => {
    const zoneWide = await load((d) => (d.notes = { ...POLICY, dnsSuffixes: ["example.org"] }));
    const r = mergeNotes(zoneWide, { 110: notes("dns: [ example.org, pve2.example.org ]") });
    expect(r.problems.map((p) => p.message)).toEqual([
      "example.org is not a subdomain of notes.dnsSuffixes (example.org)",
      "pve2.example.org is node pve2's host name",
    ]);
    const ok = mergeNotes(zoneWide, { 110: notes("dns: [ shop2.example.org ]") });
    expect(ok.config.vms["110"]?.dns).toEqual(["shop2.example.org"]);
  });

  it("refuses public ports outside notes.ports, by protocol", () => {
    const r = mergeNotes(on, { 110: notes('forward: [ "tcp/20022:22", "tcp/2222:22", "udp/8080" ]') });
    expect(r.config.vms["110"]).toBeUndefined();
    expect(r.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      "vms.110 (Notes).forward[1]: tcp/2222 is not in notes.ports (tcp/20000-20999, udp/20000-20999)",
      "vms.110 (Notes).forward[2]: udp/8080 is not in notes.ports (tcp/20000-20999, udp/20000-20999)",
    ]);
  });

  it("with notes on but no suffixes or ports, nothing can be claimed", async () => {
    const bare = await load((d) => (d.notes = { enabled: true }));
    const r = mergeNotes(bare, { 110: notes('dns: [ a.example.org ]\nforward: [ "tcp/20022" ]') });
    expect(r.config.vms["110"]).toBeUndefined();
    expect(r.problems.map((p) => p.message)).toEqual([
      "a.example.org: notes.dnsSuffixes is empty, so Notes may claim no name",
      "tcp/20022: notes.ports is empty, so Notes may forward no port",
    ]);
  });
});

describe("bounded: limits, sizes and reports", () => {
  it("400 names and 400 ports are refused by count, in two lines, before any is parsed", () => {
    const names = Array.from({ length: 400 }, (_, i) => `n${i}.tenants.example.org`);
    const forwards = Array.from({ length: 400 }, (_, i) => `"tcp/${20000 + i}"`);
    const r = mergeNotes(on, {
      110: notes(`dns: [ ${names.join(", ")} ]\nforward: [ ${forwards.join(", ")} ]`),
    });
    expect(r.config.vms["110"]).toBeUndefined();
    expect(r.problems).toEqual([
      { path: "vms.110 (Notes)", message: "claims 400 names (dns + sni + http), more than notes.maxNames 6" },
      { path: "vms.110 (Notes).forward", message: "claims 400 forwards, more than notes.maxForwards 4" },
    ]);
  });

  it("maxNames counts dns, sni and http together", () => {
    const three = "[ a.tenants.example.org, b.tenants.example.org, c.tenants.example.org ]";
    const atLimit = mergeNotes(on, { 110: notes(`dns: ${three}\nsni: ${three}`) });
    expect(atLimit.problems).toEqual([]);
    const over = mergeNotes(on, {
      110: notes(`dns: ${three}\nsni: ${three}\nhttp: [ a.tenants.example.org ]`),
    });
    expect(over.config.vms["110"]).toBeUndefined();
    expect(over.problems[0]?.message).toBe("claims 7 names (dns + sni + http), more than notes.maxNames 6");
  });

  it("reports at most NOTES_MAX_PROBLEMS lines per block, then how many more", () => {
    const bad = Array.from({ length: 6 }, (_, i) => `x${i}.example.net`);
    const r = mergeNotes(on, {
      110: notes(`dns: [ ${bad.join(", ")} ]\nforward: [ "tcp/1", "tcp/2", "tcp/3", "tcp/4" ]`),
    });
    expect(r.problems).toHaveLength(NOTES_MAX_PROBLEMS + 1);
    expect(r.problems.at(-1)).toEqual({
      path: "vms.110 (Notes)",
      message: `and ${10 - NOTES_MAX_PROBLEMS} more problems; the block is ignored`,
    });
  });

  it("Notes larger than NOTES_MAX_BYTES are not read", () => {
    const big = notes("dns: [ app.tenants.example.org ]") + "x".repeat(NOTES_MAX_BYTES);
    const r = mergeNotes(on, { 110: big });
    expect(r.config.vms["110"]).toBeUndefined();
    expect(r.problems[0]?.message).toMatch(/^the Notes are \d+ bytes, more than 65536; not read$/);
  });
});
