import { describe, expect, it } from "vitest";
import { parseFastDnsSet } from "../../bin/dns-set-fast.ts";

// Which `dns set` command lines the CLI's fast path takes (bin/dns-set-fast.ts)
// and which it leaves to commander: anything it takes must mean exactly what
// the full command (bin/commands/dns.ts) reads from it.

describe("dns set fast path: the argv it takes", () => {
  it("takes --config before `dns` or after `set`, in both spellings, and every option of `dns set`", () => {
    expect(
      parseFastDnsSet([
        "--config",
        "/c.yaml",
        "dns",
        "set",
        "a.example.org",
        "192.0.2.1",
        "--ttl=60",
        "2001:db8::1",
        "--expect",
        "none",
        "--expect=192.0.2.9",
        "--dry-run",
        "--json",
      ]),
    ).toEqual({
      config: "/c.yaml",
      fqdn: "a.example.org",
      addresses: ["192.0.2.1", "2001:db8::1"],
      ttl: "60",
      expect: ["none", "192.0.2.9"],
      dryRun: true,
      json: true,
    });
    expect(parseFastDnsSet(["dns", "set", "a", "192.0.2.1", "--config=/d.yaml"])).toEqual({
      config: "/d.yaml",
      fqdn: "a",
      addresses: ["192.0.2.1"],
      dryRun: false,
      json: false,
    });
  });

  it.each([
    ["another command", ["dns", "show", "a"]],
    ["no address (commander's missing-argument error)", ["dns", "set", "a"]],
    ["help", ["dns", "set", "a", "192.0.2.1", "-h"]],
    ["an unknown option", ["dns", "set", "a", "192.0.2.1", "--ttll", "5"]],
    ["a value on a flag", ["dns", "set", "a", "192.0.2.1", "--json=yes"]],
    ["a missing option value", ["dns", "set", "a", "192.0.2.1", "--ttl"]],
    ["an option value that looks like an option", ["dns", "set", "a", "192.0.2.1", "--expect", "--json"]],
    ["a repeated --ttl", ["dns", "set", "a", "192.0.2.1", "--ttl", "5", "--ttl", "6"]],
    [
      "--config twice (root and subcommand)",
      ["--config", "x", "dns", "set", "a", "192.0.2.1", "--config", "y"],
    ],
    ["an option between dns and set", ["dns", "--config", "x", "set", "a", "192.0.2.1"]],
    ["the end of options", ["dns", "set", "a", "--", "192.0.2.1"]],
    ["--version before the command", ["--version", "dns", "set", "a", "192.0.2.1"]],
  ])("leaves %s to the full CLI", (_why, argv) => {
    expect(parseFastDnsSet(argv)).toBeUndefined();
  });
});
