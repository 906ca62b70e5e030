import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config/load.ts";
import { extractNotesBlock, mergeNotes } from "../../lib/config/notes.ts";
import type { Config } from "../../lib/config/types.ts";
import { baseDoc, type Fixture, makeFixture } from "./fixture.ts";

let fx: Fixture;
let config: Config;
beforeAll(async () => {
  fx = makeFixture();
  ({ config } = await loadConfig(fx.write(baseDoc())));
});
afterAll(() => fx.cleanup());

const notes = (yaml: string) =>
  `Shop VM, owned by team web.\n\n\`\`\`pvemigrate-dns\n${yaml}\n\`\`\`\nmore text\n`;

describe("VM Notes blocks", () => {
  it("extracts only the fenced pvemigrate-dns block", () => {
    expect(extractNotesBlock(notes("dns: [a.example.org]"))).toBe("dns: [a.example.org]\n");
    expect(extractNotesBlock("```yaml\ndns: [x]\n```")).toBeUndefined();
    expect(extractNotesBlock("no block here")).toBeUndefined();
    expect(extractNotesBlock("~~~pvemigrate-dns\r\nip: agent\r\n~~~\r\n")).toBe("ip: agent\n");
  });

  it("adds a VM that only its Notes describe", () => {
    const r = mergeNotes(config, {
      110: notes('ip: 10.10.1.110\ndns: [ new.example.org ]\nforward: [ "tcp/2210:22" ]'),
    });
    expect(r.problems).toEqual([]);
    expect(r.config.vms["110"]?.dns).toEqual(["new.example.org"]);
    expect(r.config.vms["110"]?.forward).toEqual([{ proto: "tcp", publicPort: 2210, privatePort: 22 }]);
  });

  it("the file wins on conflict, and the conflict is reported", () => {
    const r = mergeNotes(config, { 102: notes("ip: 10.10.1.102\ndns: [ other.example.org ]") });
    expect(r.config.vms["102"]?.dns).toEqual(["shop.example.org"]);
    expect(r.conflicts).toEqual([
      { path: "vms.102.dns", message: "the VM's Notes say otherwise; the config file wins" },
    ]);
  });

  it("fills lists the file leaves empty", () => {
    const r = mergeNotes(config, { 102: notes('ip: 10.10.1.102\nsni: [ "shop.example.org" ]') });
    expect(r.conflicts).toEqual([]);
    expect(r.config.vms["102"]?.sni).toEqual([{ name: "shop.example.org", port: 443 }]);
  });

  it("reports an invalid Notes block by field and ignores it", () => {
    const r = mergeNotes(config, { 110: notes('ip: 10.10.1.110\nforward: [ "tcp/99999" ]') });
    expect(r.problems).toEqual([
      { path: "vms.110 (Notes).forward[0]", message: "port 99999 is out of range 1-65535" },
    ]);
    expect(r.config.vms["110"]).toBeUndefined();
  });

  it("ignores a Notes block that would collide with the file, and says why", () => {
    const r = mergeNotes(config, { 110: notes('ip: 10.10.1.110\nforward: [ "tcp/25" ]') });
    expect(r.config.vms["110"]).toBeUndefined();
    expect(r.problems[0]?.path).toBe("vms.110.forward[0]");
    expect(r.problems[0]?.message).toMatch(/also claimed by VM 101 .*\(from the VM's Notes; ignored\)$/);
  });

  it("ignores a Notes forward on a reserved port, naming the field", () => {
    const r = mergeNotes(config, { 110: notes('ip: 10.10.1.110\nforward: [ "tcp/22" ]') });
    expect(r.config.vms["110"]).toBeUndefined();
    expect(r.problems).toEqual([
      {
        path: "vms.110.forward[0]",
        message:
          "tcp/22 is reserved on every node (reservedPorts: sshd); use e.g. tcp/2223:22 (from the VM's Notes; ignored)",
      },
    ]);
  });

  it("a Notes forward on a reserved port does not fill the file's empty list", () => {
    const bare = { ...config, vms: { ...config.vms, 102: { ...config.vms["102"]!, forward: [] } } };
    const bad = mergeNotes(bare, { 102: notes('ip: 10.10.1.102\nforward: [ "udp/5405" ]') });
    expect(bad.config.vms["102"]?.forward).toEqual([]);
    expect(bad.problems.map((p) => p.path)).toEqual(["vms.102.forward[0]"]);
    expect(bad.problems[0]?.message).toMatch(
      /^udp\/5405 is reserved on every node \(reservedPorts: corosync\)/,
    );
  });

  it("reports YAML syntax errors in Notes", () => {
    const r = mergeNotes(config, { 110: notes("ip: [unclosed") });
    expect(r.problems[0]?.path).toBe("vms.110 (Notes)");
    expect(r.problems[0]?.message).toMatch(/^not valid YAML/);
  });
});
