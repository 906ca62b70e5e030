import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config/load.ts";
import { formatProblem } from "../../lib/config/normalize.ts";
import { mergeNotes } from "../../lib/config/notes.ts";
import { baseDoc, type Doc, type Fixture, makeFixture, problemsOf as problemsOfDoc } from "./fixture.ts";

// The IPv6 fields: vms.*.ip6 (static, canonicalized, or agent), vmNetwork6,
// nat.graceMode; and the rule that a VM's Notes may not set ip6.

let fx: Fixture;
beforeEach(() => {
  fx = makeFixture();
});
afterEach(() => fx.cleanup());

const problemsOf = (mutate: (doc: Doc) => void) => problemsOfDoc(fx, mutate);

describe("vms.*.ip6", () => {
  it("stores a static ip6 in canonical form, with vmNetwork6 and graceMode", async () => {
    const doc = baseDoc();
    doc.vmNetwork6 = "fd10:10::/48";
    doc.vms[101].ip6 = "FD10:0010::0101";
    doc.vms[102].ip6 = "agent";
    doc.nat = { graceMode: "policy-routing" };
    const { config } = await loadConfig(fx.write(doc));
    expect(config.vms["101"]?.ip6).toEqual({ kind: "static", address: "fd10:10::101" });
    expect(config.vms["102"]?.ip6).toEqual({ kind: "agent" });
    expect(config.vmNetwork6).toBe("fd10:10::/48");
    expect(config.nat.graceMode).toBe("policy-routing");
    const plain = await loadConfig(fx.write(baseDoc(), "plain.yaml"));
    expect(plain.config.vms["101"]?.ip6).toBeUndefined();
    expect(plain.config.nat.graceMode).toBe("snat");
  });

  it("names the field of every bad IPv6 value", async () => {
    expect(
      await problemsOf((d) => {
        d.vms[101].ip6 = "10.10.1.101";
        d.vmNetwork6 = "fd10::/129";
        d.nat = { graceMode: "dnat" };
      }),
    ).toEqual([
      expect.stringMatching(/^vmNetwork6: must be an IPv6 network/),
      expect.stringMatching(/^nat\.graceMode: /),
      'vms.101.ip6: "10.10.1.101" is not an IPv6 address or "agent"',
    ]);
  });

  it("refuses an ip6 outside vmNetwork6, taken twice, or a node's public address; agent without vmNetwork6", async () => {
    expect(
      await problemsOf((d) => {
        d.vmNetwork6 = "fd10:10::/48";
        d.nodes.pve1.publicIPv6 = "fd10:10::1";
        d.vms[101].ip6 = "fd10:10::1";
        d.vms[102].ip6 = "fd99::102";
      }),
    ).toEqual([
      "vms.101.ip6: fd10:10::1 is also node pve1's publicIPv6",
      "vms.102.ip6: fd99::102 is outside vmNetwork6 fd10:10::/48",
    ]);
    expect(
      await problemsOf((d) => {
        d.vms[101].ip6 = "fd10::1";
        d.vms[102].ip6 = "fd10:0::1";
      }),
    ).toEqual(["vms.102.ip6: fd10::1 is also the ip6 of VM 101"]);
    expect(await problemsOf((d) => (d.vms[101].ip6 = "agent"))).toEqual([
      "vms.101.ip6: agent needs vmNetwork6 (the network the VM's IPv6 is picked from)",
    ]);
  });

  it("a VM's Notes cannot set ip6: the block is refused and the file's VM stays as it was", async () => {
    const doc = baseDoc();
    doc.notes = { enabled: true, dnsSuffixes: ["example.org"] };
    const { config } = await loadConfig(fx.write(doc));
    const notes = "```pvemigrate-dns\nip6: fd10::66\ndns: [ notes.example.org ]\n```";
    const r = mergeNotes(config, { 102: notes, 150: notes });
    expect(r.problems.map(formatProblem)).toEqual([
      "vms.102 (Notes).ip6: only the config file may set a VM's ip6",
      "vms.150 (Notes).ip6: only the config file may set a VM's ip6",
    ]);
    expect(r.config.vms["102"]).toEqual(config.vms["102"]);
    expect(r.config.vms["150"]).toBeUndefined();
  });
});
