import { describe, expect, it } from "vitest";
import { parsePromText, sampleValue } from "../support/prom-text.ts";

// The test parser must be able to fail: every rule it checks, shown a breach.

const GOOD = [
  "# a comment",
  "# HELP up_things Things that are up, \\\\ and a \\n newline.",
  "# TYPE up_things gauge",
  'up_things{node="pve1",path="C:\\\\x",say="a \\"b\\"\\nc"} 1',
  "up_things 2.5e3",
  "",
  "# TYPE took_seconds summary",
  'took_seconds_sum{master="[::1]:53"} 0.25',
  'took_seconds_count{master="[::1]:53"} 3',
  "# TYPE fails_total counter",
  "fails_total +Inf",
  "odd NaN",
  "",
].join("\n");

describe("the strict Prometheus text parser (test/support/prom-text.ts)", () => {
  it("reads a well-formed file: types, help, escapes, summaries, special values", () => {
    const f = parsePromText(GOOD);
    expect(f.map((x) => [x.name, x.type])).toEqual([
      ["up_things", "gauge"],
      ["took_seconds", "summary"],
      ["fails_total", "counter"],
      ["odd", "untyped"],
    ]);
    expect(f[0]?.help).toBe("Things that are up, \\ and a \n newline.");
    expect(f[0]?.samples[0]?.labels).toEqual({ node: "pve1", path: "C:\\x", say: 'a "b"\nc' });
    expect(sampleValue(f, "up_things")).toBe(2500);
    expect(sampleValue(f, "took_seconds_count", { master: "[::1]:53" })).toBe(3);
    expect(sampleValue(f, "fails_total")).toBe(Number.POSITIVE_INFINITY);
    expect(sampleValue(f, "odd")).toBeNaN();
  });

  const bad: Array<[string, string, RegExp]> = [
    ["no final newline", "x 1", /does not end/],
    ["HELP twice", "# HELP x a\n# HELP x b\nx 1\n", /HELP given twice/],
    ["TYPE twice", "# TYPE x gauge\n# TYPE x gauge\nx 1\n", /TYPE given twice/],
    ["TYPE after samples", "x 1\n# TYPE x gauge\n", /TYPE after its samples/],
    ["a family split by another", 'x 1\ny 1\nx{a="b"} 2\n', /not together/],
    ["unknown type", "# TYPE x meter\nx 1\n", /unknown type/],
    ["metric name with a dash", "x-y 1\n", /whitespace before the value/],
    ["metric name starting with a digit", "1x 1\n", /start with a metric name/],
    ["reserved label name", 'x{__name__="y"} 1\n', /reserved/],
    ["bad label name", 'x{a-b="y"} 1\n', /expected =/],
    ["label twice", 'x{a="1",a="2"} 1\n', /given twice/],
    ["same label set twice", 'x{a="1"} 1\nx{a="1"} 2\n', /same label set/],
    ["unknown escape in a label value", 'x{a="\\t"} 1\n', /invalid escape/],
    ["unknown escape in HELP", "# HELP x a \\t b\nx 1\n", /invalid escape/],
    ["unescaped quote", 'x{a="b"c"} 1\n', /expected , or }/],
    ["unterminated label value", 'x{a="b} 1\n', /unterminated/],
    ["value that is not a float", "x one\n", /not a float/],
    ["hex value", "x 0x1F\n", /not a float/],
    ["too many tokens", "x 1 2 3\n", /too many tokens/],
    ["a timestamp in a textfile", "x 1 1700000000000\n", /timestamps are not allowed/],
    ["a summary without quantile", "# TYPE s summary\ns 1\n", /quantile/],
    ["a bucket on a summary", "# TYPE s summary\ns_bucket 1\n", /not a sample a summary has/],
  ];
  it.each(bad)("refuses %s", (_what, text, why) => {
    expect(() => parsePromText(text)).toThrow(why);
  });

  it("accepts a timestamp outside the textfile collector's mode, and only an integer one", () => {
    expect(sampleValue(parsePromText("x 1 1700000000000\n", { textfile: false }), "x")).toBe(1);
    expect(() => parsePromText("x 1 1.5\n", { textfile: false })).toThrow(/not an integer/);
  });
});
