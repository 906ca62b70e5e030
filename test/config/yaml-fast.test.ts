import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { parseYamlLinear } from "../../lib/config/yaml.ts";
import { parseYamlFast, REFUSED } from "../../lib/config/yaml-fast.ts";
import { scaleVmsYaml } from "../../lib/sim/scale.ts";
import { baseDoc } from "./fixture.ts";

// The lean parse (js-yaml, lib/config/yaml-fast.ts) must read every document
// it takes exactly as the `yaml` package's core schema does, and leave the
// rest to it. The package is the oracle: toEqual compares numbers with
// Object.is (so -0 is not 0, NaN is NaN) and tells a number from a string.

const root = join(import.meta.dirname, "..", "..");

/** What a parser makes of `text`: its value, or its error's message. */
function outcome(parser: (text: string) => unknown, text: string): { value?: unknown; error?: string } {
  try {
    return { value: parser(text) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

// Plain scalars of YAML 1.2's core schema and its near misses: ints (octal 0o, hex 0x, signs,
// leading zeros, underscores), floats (exponents, .inf/.nan spellings), booleans, null forms,
// timestamps and other YAML 1.1 forms (strings in 1.2), merge keys.
const SCALARS = [
  ...["0", "-0", "+0", "12", "+12", "-12", "012", "0012", "09", "0o17", "0o8", "0O17", "+0o17", "-0o17"],
  ...[
    "0x1F",
    "0x1f",
    "0X1F",
    "-0x1F",
    "0x",
    "0o",
    "0b101",
    "1_000",
    "-1_0",
    "0x_1F",
    "123456789012345678901234",
  ],
  ...[
    "1.5",
    "-1.5",
    "+1.5",
    ".5",
    "-.5",
    "1.",
    "1e3",
    "1E3",
    "1e+3",
    "1.0e-3",
    "12e03",
    "1e",
    "1.2.3",
    "3.14_15",
  ],
  ...[".inf", ".Inf", ".INF", "-.inf", "+.inf", "inf", "Infinity", ".nan", ".NaN", ".NAN", "NaN", "nan"],
  ...["true", "True", "TRUE", "false", "False", "FALSE", "yes", "no", "on", "off", "y", "n", "tRUE"],
  ...["null", "Null", "NULL", "~", "nULL", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "12:30:00", "1:20"],
  ...[
    "1:20:30",
    "190:20:30",
    "<<",
    "=",
    "a b",
    "a#b",
    "-a",
    "?a",
    "a:b",
    "10.10.1.2",
    "tcp/10000:22",
    "g1.example.org",
  ],
];

// Other scalar styles and collections: escapes, folding, chomping, comments, empty values.
const DOCUMENTS = [
  'a: "\\x41\\u00e9\\t\\n\\\\\\"\\/\\ \\_\\N\\L\\P\\e\\0\\a\\b\\v\\f\\r"\n',
  "a: 'it''s'\nb: ''\nc: \"\"\n",
  "a: |\n  one\n   two\n\n  three\n\n\nb: 1\n",
  "a: |-\n  x\n\nb: |+\n  y\n\n\nc: >\n    z\n",
  "a: >\n  folded\n  line\n\n  next\n    more\nb: >-\n  f\n",
  "a: plain\n  multi line\n\n  scalar\nb: 'single\n  quoted\n\n  lines'\nc: \"double\\\n  escaped\"\n",
  "a:   # comment\n  - 1 # one\n  -   # empty\n  - [x, {y: }]\n# end\n",
  "a: {b: , c}\nd: [e, f: g]\n? h\n: i\n? j\n",
  "k:\n- a\n- - b\n  - c\n- d: e\n  f: g\n",
  "a:\n  b:\n    c: [1, 2, 3]\n  d: {e: f}\n",
  "--- \na: 1\n",
  "---\n# c\nk: 1\n",
  "'a': 1\n\"b\": 2\n? c\n: 3\n",
  "1: a\n0x10: b\n1.5: c\ntrue: d\n.inf: e\n-0: f\n",
  'a: "\\u0000x"\n',
  "__proto__: {polluted: true}\n",
  "a: {__proto__: 1}\n",
  "a: '1e400'\nb: \"1e400\"\nc: 1.7976931348623157e308\nd: 123456789012345678901234\ne: 1e400x\n",
  "a: 1\r\nb: [2, 3]\r\n",
  "\ufeff# a byte order mark first\na: 1\n",
  "a:\n- x\n- 'y'\nb: [1]\nc:\n- {d: 1}\n- \"e\"\nf: 2\n",
];

describe("the lean YAML parse reads core-schema scalars exactly as the yaml package", () => {
  it.each(SCALARS)("%s as a value, a list item and a key", (s) => {
    for (const text of [`v: ${s}\n`, `v: [${s}, x]\n`, `${s}: x\n`, `v:\n- ${s}\n`, `{v: ${s}}\n`]) {
      const fast = parseYamlFast(text);
      if (fast === REFUSED) continue;
      expect({ text, value: fast }).toEqual({ text, value: parse(text) });
    }
  });

  it("takes the plain forms itself, so the comparisons above are not all left to yaml", () => {
    const taken = SCALARS.filter((s) => parseYamlFast(`v: ${s}\n`) !== REFUSED);
    expect(taken).toEqual(SCALARS);
  });

  it.each(DOCUMENTS)("%j", (text) => {
    expect(parseYamlFast(text)).not.toBe(REFUSED);
    expect(outcome(parseYamlLinear, text)).toEqual(outcome(parse, text));
  });

  it('keeps a "__proto__" key as an own key, never the prototype, as yaml does', () => {
    const value = parseYamlFast("__proto__: {polluted: true}\n") as Record<string, unknown>;
    expect(Object.keys(value)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("the lean YAML parse leaves to the yaml package what the two read differently", () => {
  const cases: Array<[string, string]> = [
    ["an explicit float tag on an int (1 there, '1' with a warning in yaml)", "a: !!float 1\n"],
    ["an explicit string tag", "a: !!str 12\n"],
    ["a local tag (an error there, a warning in yaml)", "a: !foo bar\n"],
    ["a tag on a collection", "a: !!map {b: 1}\n"],
    ["an anchor and its alias", "a: &x {b: 1}\nc: *x\n"],
    ["an anchor alone", "a: &x 1\n"],
    ["a %YAML 1.1 directive (yes is true there)", "%YAML 1.1\n---\na: yes\n"],
    ["a %TAG directive", "%TAG !e! tag:example.org,2000:\n---\na: 1\n"],
    ["a null key ('' in yaml)", "null: 1\n"],
    ["an empty key", "? \n: 1\n"],
    ["a collection as a key", "[1, 2]: x\n"],
    ["a map as a key", "{a: 1}: 2\n"],
    ["the same key as a number and a string (yaml keeps the last)", "1: a\n'1': b\n"],
    ["a key given twice", "a: 1\na: 2\n"],
    ["a string as the whole document", "just a string\n"],
    ["a list as the whole document", "- a\n- b\n"],
    ["a root block scalar with an indentation indicator (indented otherwise in yaml)", "|2\n   x\n"],
    [
      "a block scalar with an indentation indicator, a line of spaces in it ('  \\n' in js-yaml, '' in yaml)",
      "c: |2\n    \n",
    ],
    ["a block scalar with an indentation indicator", "c: |2\n    z\n"],
    ["a folded block scalar with chomping and indentation indicators", "c:\n- >-1\n  z\n"],
    ["a byte order mark at a later line's start (dropped by yaml, kept by js-yaml)", "# c\n\ufeffb: 1\n"],
    ["a tab as the indentation of an explicit key's value (an error in yaml only)", "? c\n\t: 3\n"],
    [
      "a tab on a blank line in a plain scalar (an error in yaml only)",
      "a: plain\n  multi\n\t\n  line\nb: 1\n",
    ],
    ["an indented document start marker (an error in yaml only)", "  --- \n-: 1\n"],
    [
      "an escaped line break before a blank line (a space in yaml, nothing in js-yaml)",
      'c: "double\\\n \n escaped"\n',
    ],
    ["an empty stream", ""],
    ["only a comment", "# nothing\n"],
    ["two documents", "a: 1\n---\nb: 2\n"],
    ["a document end marker first (an empty document of its own in yaml)", "...\n- a\n"],
    ["a document end marker after the document", "a: 1\n...\n"],
    ["a line over 1024 characters", `a: ${"v".repeat(1100)}\n`],
    ["a CR alone ending a comment (a line break for js-yaml only)", "dns:\n  zone: a.org # note\r  ttl: 5\n"],
    ["a CR alone before CRLF", "ttl: 60\r\n  zone: a.org\r\r\n"],
    ["two CRs alone between keys", "a: b\r\rc: d"],
    ["a CR alone inside a plain value", "a: b\rc\n"],
    ["a float beyond a double (Infinity in yaml, a string in js-yaml)", "a: 1e400\n"],
    ["a float just beyond a double", "a: 2e308\n"],
    ["a negative float beyond a double", "a: -1.7976931348623159e308\n"],
    ["a 320-digit integer", `a: ${"9".repeat(320)}\n`],
    ["a hex integer beyond a double", `a: 0x${"f".repeat(300)}\n`],
    ["an octal integer beyond a double", `a: 0o${"7".repeat(400)}\n`],
    ["a key beyond a double", "1e400: x\n"],
    ["a list item beyond a double", "a: [1, 1e999]\n"],
    ["a \\U escape over 0x10FFFF", 'a: "\\U00110000"\n'],
    ["a \\U escape of all ones", 'a: "\\UFFFFFFFF"\n'],
    ["a \\U escape of a surrogate pair's text", 'a: "\\UD800DC00"\n'],
    ["a valid \\U escape (any \\U is left to yaml)", 'a: "\\U0001F600"\n'],
  ];
  it.each(cases)("%s", (_, text) => {
    expect(parseYamlFast(text)).toBe(REFUSED);
    expect(outcome(parseYamlLinear, text)).toEqual(outcome(parse, text));
  });

  const broken: Array<[string, string]> = [
    ["a nested compact map", "a: b: c\n"],
    ["a tab as indentation", "a:\n\t- 1\n"],
    ["an unclosed flow sequence", "key: [a, b\n"],
    ["an unclosed quote", "x: 'abc\n"],
    ["a bad indentation", "a:\n  b: 1\n c: 2\n"],
    ["an implicit key over two lines", "a\nb: 1\n"],
    ["an implicit key over 1024 characters", `${"k".repeat(1100)}: 1\n`],
    ["a reserved indicator", "a: @b\n"],
    ["a bad escape", 'a: "\\q"\n'],
    ["a block scalar with a bad indentation indicator", "a: |0\n  x\n"],
    [
      "a key after a quoted sequence item on its line (a key of the outer map in js-yaml)",
      'a:\n- "x" z: 1\n',
    ],
    ["a key right after a single-quoted sequence item", "a:\n- 'x'z: 1\n"],
    ["a key after a flow sequence item", "a:\n- [x]z: 1\n"],
    ["a key after a flow mapping item, in a nested map", "a:\n  b:\n  - {x: 1} z: 1\n"],
    ["a key after a quoted item and a NEL", 'a:\n- "x"\u0085  b: 1\n'],
  ];
  it.each(broken)("a file yaml refuses is refused with yaml's message: %s", (_, text) => {
    const theirs = outcome(parse, text);
    expect(theirs.error).toBeDefined();
    expect(outcome(parseYamlLinear, text)).toEqual(theirs);
  });
});

describe("the lean YAML parse on whole config files", () => {
  it("reads a 2,000-guest vms section and the base config as yaml does, itself", () => {
    for (const text of [stringify(baseDoc()) + scaleVmsYaml(2000, "example.org").replace("vms:", "more:")]) {
      const fast = parseYamlFast(text);
      expect(fast).not.toBe(REFUSED);
      expect(fast).toEqual(parse(text));
    }
  });

  it("reads every shipped example and docs config as yaml does", () => {
    const files = readdirSync(join(root, "examples"))
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => join(root, "examples", f));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      expect({ file, ...outcome(parseYamlLinear, text) }).toEqual({ file, ...outcome(parse, text) });
    }
  });
});
