import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { ConfigError, loadConfig } from "../../lib/config/load.ts";
import { formatProblem } from "../../lib/config/normalize.ts";
import { parseYamlLinear } from "../../lib/config/yaml.ts";
import { scaleVmsYaml } from "../../lib/sim/scale.ts";
import { baseDoc, type Fixture, makeFixture } from "./fixture.ts";

// The config's YAML parse checks duplicate keys in one linear pass instead of
// the `yaml` package's quadratic uniqueKeys check (lib/config/yaml.ts). The
// package itself is the oracle: every document here must give exactly what
// its own parse gives, the same value or the same first error.

/** What a parser makes of `text`: its value, or its error's message. */
function outcome(parser: (text: string) => unknown, text: string): { value?: unknown; error?: string } {
  try {
    return { value: parser(text) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

describe("the linear YAML parse answers like the yaml package's own", () => {
  const cases: Array<[string, string]> = [
    ["a block map key twice", "a: 1\nb: 2\na: 3\n"],
    ["a nested key twice, reported at its line and column", "vms:\n  101:\n    ip: a\n    ip: b\n"],
    ["a flow map key twice", "vms: {101: {ip: a}, 102: {}, 101: {ip: b}}\n"],
    ["quoted and plain spellings of one string", "strict: true\n'strict': false\n"],
    ["two spellings of one number", "101: a\n0x65: b\n"],
    ["two empty keys", "? \n: a\n? \n: b\n"],
    ["a duplicate inside a key's own map", "? {a: 1, a: 2}\n: x\n"],
    ["a duplicate before a syntax error", "a: 1\na: 2\nb: [\n"],
    ["a syntax error before a duplicate", "b: [\na: 1\na: 2\n"],
    ["equal keys in different maps (fine)", "x: {a: 1}\ny: {a: 2}\n"],
    ["a number and the same digits as a string (the package allows it)", "101: a\n'101': b\n"],
    ["NaN twice (never equal to itself, so allowed)", ".nan: a\n.NaN: b\n"],
    ["an empty document", ""],
    ["two documents", "a: 1\n---\nb: 2\n"],
    ["anchors and aliases", "base: &b {ip: a}\ncopy: *b\n"],
  ];
  it.each(cases)("%s", (_, text) => {
    expect(outcome(parseYamlLinear, text)).toEqual(outcome(parse, text));
  });

  it("a generated 300-guest vms map parses to the package's value, and one repeated guest is still refused", () => {
    const text = scaleVmsYaml(300, "example.org");
    expect(outcome(parseYamlLinear, text)).toEqual(outcome(parse, text));
    const repeated = `${text}  250: {ip: 10.10.9.9}\n`;
    const mine = outcome(parseYamlLinear, repeated);
    expect(mine.error).toMatch(/^Map keys must be unique at line 302, column 3:/);
    expect(mine).toEqual(outcome(parse, repeated));
  });
});

describe("a YAML config with a key given twice", () => {
  let fx: Fixture;
  beforeEach(() => {
    fx = makeFixture();
  });
  afterEach(() => fx.cleanup());

  it("is refused in one line naming the line and column, nothing loaded", async () => {
    const text = stringify(baseDoc()).replace("vms:\n", 'vms:\n  "102": { ip: 10.10.1.9 }\n');
    const file = join(fx.dir, "twice.yaml");
    writeFileSync(file, text);
    const err = await loadConfig(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    // The 102 just inserted comes first; the file's own one further down is the one reported.
    const lines = text.split("\n");
    const second = lines.findIndex((l, i) => i > lines.indexOf("vms:") + 1 && /^ {2}"102":/.test(l)) + 1;
    expect(second).toBeGreaterThan(0);
    expect((err as ConfigError).problems.map(formatProblem)).toEqual([
      `(file): not valid YAML/JSON: Map keys must be unique at line ${second}, column 3:`,
    ]);
  });
});
