import { isIPv4 as nodeIsIPv4 } from "node:net";
import { describe, expect, it } from "vitest";
import { isIPv4 } from "../../lib/dns/wire/ipv4.ts";

// lib/dns/wire/ipv4.ts stands in for net.isIPv4 on the `dns set` path (so
// node:net is not loaded for one regular expression): it must accept exactly
// what Node accepts.

const CASES = [
  "0.0.0.0",
  "127.0.0.1",
  "192.0.2.1",
  "255.255.255.255",
  "256.1.1.1",
  "1.2.3",
  "1.2.3.4.5",
  "01.2.3.4",
  "1.2.3.04",
  "1.2.3.4 ",
  " 1.2.3.4",
  "1.2.3.4\n",
  "1..3.4",
  "a.b.c.d",
  "",
  "::1",
  "::ffff:192.0.2.1",
  "1.2.3.-4",
  "+1.2.3.4",
  "1.2.3.4/32",
  "199.200.249.250",
  "10.10.0.1",
];

describe("isIPv4 (without node:net)", () => {
  it("agrees with net.isIPv4 on edge cases: leading zeros, out-of-range octets, whitespace, IPv6", () => {
    for (const text of CASES) expect(isIPv4(text), JSON.stringify(text)).toBe(nodeIsIPv4(text));
    expect(CASES.filter(isIPv4).length).toBeGreaterThan(3);
  });

  it("agrees with net.isIPv4 on random dotted strings of digits", () => {
    // Deterministic: a small LCG, so a failure names the same input every run.
    let seed = 16;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const alphabet = "0123456789.";
    for (let i = 0; i < 20_000; i++) {
      let text = "";
      const length = 1 + next(16);
      for (let j = 0; j < length; j++) text += alphabet[next(alphabet.length)];
      expect(isIPv4(text), JSON.stringify(text)).toBe(nodeIsIPv4(text));
    }
  });
});
