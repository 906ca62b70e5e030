import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadConfig } from "../../lib/config/load.ts";
import { printableConfig, printableYaml } from "../../lib/config/printable.ts";
import { baseDoc, type Fixture, makeFixture } from "./fixture.ts";

// `config check` writes the config one VM at a time (printableYaml) so a
// 10,000-guest file does not need yaml's node tree of the whole output; the
// text must stay what stringify of the whole object wrote.

const whole = (value: Record<string, unknown>) => stringify(JSON.parse(JSON.stringify(value)));

let fx: Fixture;
beforeAll(() => {
  fx = makeFixture();
});
afterAll(() => fx.cleanup());

describe("config check's YAML, written one VM at a time", () => {
  it("is the text stringify writes for the whole normalized config", async () => {
    const doc = baseDoc();
    for (let i = 0; i < 20; i++) doc.vms[200 + i] = { ip: `10.10.2.${10 + i}`, dns: [`g${i}.example.org`] };
    const printable = printableConfig(await loadConfig(fx.write(doc)));
    expect(Object.keys(printable.vms as object)).toHaveLength(22);
    expect(printableYaml(printable)).toBe(whole(printable));
  });

  it("folds long lines and quotes strings as the whole text does, at the VMs' own indentation", () => {
    // Folding depends on the column a value starts at: a VM written on its own at the top
    // level and indented afterwards would fold these at other places.
    const long = Array.from({ length: 30 }, (_, i) => `word${i}`).join(" ");
    const shared = ["pve1", "pve2"];
    const printable = {
      source: "/etc/pve/pvemigrate-dns.yaml",
      dns: { zone: "example.org", note: long },
      empty: {},
      vms: {
        "101": { ip: "10.10.1.101", dns: [long, "yes", "1", "a: b", "line one\nline two\n"], nodes: shared },
        "102": { ip: "agent", dns: [], nodes: shared, gone: undefined },
        "103": { ip: "dnsmasq", dns: [`${long} ${long}`], externalNames: false },
      },
    };
    const text = printableYaml(printable);
    expect(text).toBe(whole(printable));
    // The case above really folds inside a VM, and shares an array without anchors.
    expect(text).toMatch(/\n {8}word\d+/);
    expect(text).not.toContain("&");
  });

  it("writes an empty vms map, a config without vms and undefined fields as stringify does", () => {
    for (const printable of [
      { source: "x", vms: {} },
      { source: "x" },
      { vms: { "100": { ip: "agent" } } },
      { source: undefined, vms: undefined },
      {},
    ])
      expect(printableYaml(printable)).toBe(whole(printable));
  });

  const vm = { ip: "agent", dns: ["a.example.org"] };
  const shapes: Array<[string, Record<string, unknown>]> = [
    ["an undefined VM", { vms: { "100": undefined, "101": vm } }],
    ["a function or symbol as a VM", { vms: { "100": vm, "101": () => vm, "102": Symbol("x") } }],
    ["only undefined VMs", { vms: { "100": undefined } }],
    ["a VM whose toJSON gives undefined", { vms: { "100": { toJSON: () => undefined }, "101": vm } }],
    ["vms as an array", { vms: [vm, { ...vm, ip: "dnsmasq" }] }],
    ["vms as an empty array", { vms: [] }],
    ["vms as a Date", { vms: new Date(0) }],
    ["vms with its own toJSON", { vms: { toJSON: () => ({ "100": vm }) } }],
    ["a function as a top-level field", { source: () => "x", vms: { "100": vm } }],
  ];
  it.each(shapes)("writes %s as stringify of the whole object does", (_, printable) => {
    expect(printableYaml(printable)).toBe(whole(printable));
  });
});
