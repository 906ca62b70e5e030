import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extractNotesBlock, mergeNotes } from "../../lib/config/notes.ts";
import type { Config } from "../../lib/config/types.ts";
import { configOf, type Doc, type Fixture, makeFixture, NOTES_POLICY as POLICY } from "./fixture.ts";

// A VM's Notes are written by its tenant (VM.Config.Options), not by root:
// each test plays a tenant asking for something, first with Notes off (the
// default), then under the file's policy.

let fx: Fixture;
let off: Config;
let on: Config;
const load = (mutate: (d: Doc) => void) => configOf(fx, mutate);
beforeAll(async () => {
  fx = makeFixture();
  off = await load(() => {});
  on = await load((d) => (d.notes = POLICY));
});
afterAll(() => fx.cleanup());

const notes = (yaml: string) =>
  `Shop VM, owned by team web.\n\n\`\`\`pvemigrate-dns\n${yaml}\n\`\`\`\nmore text\n`;
const paths = (r: { problems: Array<{ path: string }> }) => r.problems.map((p) => p.path);

describe("extracting the Notes block", () => {
  it("extracts only the fenced pvemigrate-dns block", () => {
    expect(extractNotesBlock(notes("dns: [a.example.org]"))).toBe("dns: [a.example.org]\n");
    expect(extractNotesBlock("```yaml\ndns: [x]\n```")).toBeUndefined();
    expect(extractNotesBlock("no block here")).toBeUndefined();
    expect(extractNotesBlock("~~~pvemigrate-dns\r\nip: agent\r\n~~~\r\n")).toBe("ip: agent\n");
  });

  it("needs the opening fence and the tag on one line, and a closing fence", () => {
    expect(extractNotesBlock("```\npvemigrate-dns\ndns: [x]\n```\n")).toBeUndefined();
    expect(extractNotesBlock("```pvemigrate-dns\ndns: [x]\n")).toBeUndefined();
    expect(extractNotesBlock("```pvemigrate-dns\n```\n")).toBe("");
  });
});

describe("Notes are off unless the file turns them on", () => {
  const block = notes('dns: [ app.tenants.example.org ]\nforward: [ "tcp/20022:22" ]');

  it("a VM only its Notes describe is not added, and the block is reported", () => {
    const r = mergeNotes(off, { 110: block });
    expect(r.config.vms["110"]).toBeUndefined();
    expect(r.problems).toEqual([
      {
        path: "vms.110 (Notes)",
        message: "Notes are off (notes.enabled is false in the config file); the VM's Notes block is ignored",
      },
    ]);
  });

  it("the same block is taken under the policy: names and ports inside it, the address from discovery", () => {
    const r = mergeNotes(on, { 110: block });
    expect(r.problems).toEqual([]);
    expect(r.config.vms["110"]).toEqual({
      vmid: 110,
      ip: { kind: "agent" },
      dns: ["app.tenants.example.org"],
      forward: [{ proto: "tcp", publicPort: 20022, privatePort: 22 }],
      sni: [],
      http: [],
      nodes: ["pve1", "pve2"],
      notesClaims: ["app.tenants.example.org"],
    });
  });

  it("notesAllowed: false in the file opts one VM out of an enabled policy", async () => {
    const optedOut = await load((d) => {
      d.notes = POLICY;
      d.vms[102].notesAllowed = false;
      d.vms[102].dns = [];
    });
    const r = mergeNotes(optedOut, { 102: block });
    expect(r.config.vms["102"]?.dns).toEqual([]);
    expect(r.problems).toEqual([
      {
        path: "vms.102 (Notes)",
        message: "Notes are off for this VM (vms.102.notesAllowed: false); its Notes block is ignored",
      },
    ]);
  });

  it("notesAllowed: true in the file opts one VM in, under the policy's limits", async () => {
    const optedIn = await load((d) => {
      d.notes = { ...POLICY, enabled: false };
      d.vms[102].notesAllowed = true;
      d.vms[102].dns = [];
    });
    const r = mergeNotes(optedIn, { 102: block, 110: block });
    expect(r.config.vms["102"]?.dns).toEqual(["app.tenants.example.org"]);
    expect(r.config.vms["102"]?.notesClaims).toEqual(["app.tenants.example.org"]);
    expect(r.config.vms["110"]).toBeUndefined();
    expect(paths(r)).toEqual(["vms.110 (Notes)"]);
  });
});

describe("a Notes block never chooses where traffic goes", () => {
  it("an ip in Notes is refused and the whole block ignored", () => {
    const r = mergeNotes(on, { 110: notes("ip: 10.10.0.1\ndns: [ app.tenants.example.org ]") });
    expect(r.config.vms["110"]).toBeUndefined();
    expect(r.problems).toEqual([
      {
        path: "vms.110 (Notes).ip",
        message:
          "a Notes block cannot choose the VM's address: it comes from the config file or from discovery (notes.ip)",
      },
    ]);
  });

  it("nodes, notesAllowed and externalNames are the file's to set; the entries are still checked", () => {
    const r = mergeNotes(on, {
      110: notes("nodes: [pve1]\nnotesAllowed: true\nexternalNames: true\nsni: [ accounts.google.com ]"),
    });
    expect(r.config.vms["110"]).toBeUndefined();
    expect(paths(r)).toEqual([
      "vms.110 (Notes).nodes",
      "vms.110 (Notes).notesAllowed",
      "vms.110 (Notes).externalNames",
      "vms.110 (Notes).sni[0]",
    ]);
  });

  it("a Notes-only VM's address comes from the policy's discovery method", async () => {
    const dnsmasq = await load((d) => (d.notes = { ...POLICY, ip: undefined }));
    const r = mergeNotes(dnsmasq, { 110: notes("dns: [ app.tenants.example.org ]") });
    expect(r.config.vms["110"]?.ip).toEqual({ kind: "dnsmasq" });
  });
});

describe("merging an accepted block with the file", () => {
  const wide = async () =>
    load(
      (d) => (d.notes = { ...POLICY, ports: ["tcp/1-65535", "udp/1-65535"], dnsSuffixes: ["example.org"] }),
    );

  it("the file wins on conflict, and the conflict is reported", async () => {
    const r = mergeNotes(await wide(), { 102: notes("dns: [ other.example.org ]") });
    expect(r.config.vms["102"]?.dns).toEqual(["shop.example.org"]);
    expect(r.config.vms["102"]?.notesClaims).toBeUndefined();
    expect(r.conflicts).toEqual([
      { path: "vms.102.dns", message: "the VM's Notes say otherwise; the config file wins" },
    ]);
  });

  it("fills lists the file leaves empty", async () => {
    const r = mergeNotes(await wide(), { 102: notes('sni: [ "shop.example.org" ]') });
    expect(r.conflicts).toEqual([]);
    expect(r.config.vms["102"]?.sni).toEqual([{ name: "shop.example.org", port: 443 }]);
  });

  it("reports an invalid Notes block by field and ignores it", () => {
    const r = mergeNotes(on, { 110: notes('forward: [ "tcp/99999" ]') });
    expect(r.problems).toEqual([
      { path: "vms.110 (Notes).forward[0]", message: "port 99999 is out of range 1-65535" },
    ]);
    expect(r.config.vms["110"]).toBeUndefined();
  });

  it("ignores a Notes block that would collide with the file, and says why", async () => {
    const r = mergeNotes(await wide(), { 110: notes('forward: [ "tcp/25" ]') });
    expect(r.config.vms["110"]).toBeUndefined();
    expect(r.problems[0]?.path).toBe("vms.110.forward[0]");
    expect(r.problems[0]?.message).toMatch(/also claimed by VM 101 .*\(from the VM's Notes; ignored\)$/);
  });

  it("ignores a Notes block claiming a name the file gives another VM", async () => {
    const r = mergeNotes(await wide(), { 110: notes("dns: [ mail.example.org ]") });
    expect(r.config.vms["110"]).toBeUndefined();
    expect(r.problems[0]?.message).toMatch(/^mail\.example\.org is also claimed by VM 101/);
  });

  it("ignores a Notes forward on a reserved port, naming the field", async () => {
    const r = mergeNotes(await wide(), { 110: notes('forward: [ "tcp/22" ]') });
    expect(r.config.vms["110"]).toBeUndefined();
    expect(r.problems).toEqual([
      {
        path: "vms.110.forward[0]",
        message:
          "tcp/22 is reserved on every node (reservedPorts: sshd); use e.g. tcp/2223:22 (from the VM's Notes; ignored)",
      },
    ]);
  });

  it("a Notes forward on a reserved port does not fill the file's empty list", async () => {
    const config = await wide();
    const bare = { ...config, vms: { ...config.vms, 102: { ...config.vms["102"]!, forward: [] } } };
    const bad = mergeNotes(bare, { 102: notes('forward: [ "udp/5405" ]') });
    expect(bad.config.vms["102"]?.forward).toEqual([]);
    expect(paths(bad)).toEqual(["vms.102.forward[0]"]);
    expect(bad.problems[0]?.message).toMatch(
      /^udp\/5405 is reserved on every node \(reservedPorts: corosync\)/,
    );
  });

  it("reports YAML syntax errors and non-mappings in Notes", () => {
    const r = mergeNotes(on, { 110: notes("dns: [unclosed"), 111: notes("- a list") });
    expect(r.problems[0]?.path).toBe("vms.110 (Notes)");
    expect(r.problems[0]?.message).toMatch(/^not valid YAML/);
    expect(r.problems[1]).toEqual({
      path: "vms.111 (Notes)",
      message: "is not a mapping of dns/forward/sni/http",
    });
  });
});
