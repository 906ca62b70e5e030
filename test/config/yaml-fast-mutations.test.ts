import { isDeepStrictEqual } from "node:util";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseYamlLinear } from "../../lib/config/yaml.ts";
import { parseYamlFast, REFUSED } from "../../lib/config/yaml-fast.ts";

// The lean parse (js-yaml) against the `yaml` package on documents made by
// breaking valid ones a little (a YAML-significant string put in, a few
// characters taken out or replaced), where the two parsers' corners show:
// this is how block scalars with an indentation indicator, tabs in
// indentation, indented markers and escaped line breaks before a blank line
// were found. A fixed seed, so a failure names a document that stays failing.

const SEEDS = [
  'a: "\\x41\\u00e9\\t\\n"\n',
  "a: 'it''s'\nb: ''\nc: \"\"\n",
  "a: |-\n  x\n\nb: |+\n  y\n\n\nc: >\n    z\n",
  "a: >\n  folded\n  line\n\n  next\n    more\nb: >-\n  f\n",
  "a: plain\n  multi line\n\n  scalar\nb: 'single\n  quoted\n\n  lines'\nc: \"double\\\n  escaped\"\n",
  "a:   # comment\n  - 1 # one\n  -   # empty\n  - [x, {y: }]\n# end\n",
  "a: {b: , c}\nd: [e, f: g]\n? h\n: i\n? j\n",
  "k:\n- a\n- - b\n  - c\n- d: e\n  f: g\n",
  "a:\n  b:\n    c: [1, 2, 3]\n  d: {e: f}\n",
  "--- \na: 1\n",
  "'a': 1\n\"b\": 2\n? c\n: 3\n",
  "1: a\n0x10: b\n1.5: c\ntrue: d\n.inf: e\n-0: f\n",
  "a:\n- x\n- 'y'\nb: [1]\nc:\n- {d: 1}\n- \"e\"\nf: 2\n",
];
const PIECES = [
  " ",
  "  ",
  "\n",
  "\t",
  ":",
  ": ",
  "-",
  "- ",
  "? ",
  "#",
  " #",
  "'",
  '"',
  "[",
  "]",
  "{",
  "}",
  ",",
];
const MORE = [
  "|",
  ">",
  "\\",
  "x",
  "1",
  ".",
  "e",
  "\u0085",
  "\u2028",
  "\ufeff",
  "~",
  "---",
  "...",
  "|-",
  "|2",
  "\n  ",
  "\n- ",
];
const ALPHABET = [...PIECES, ...MORE];

/** mulberry32: a small seeded generator, the same sequence on every run. */
function generator(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function outcome(parser: (text: string) => unknown, text: string): { value?: unknown; error?: string } {
  try {
    return { value: parser(text) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

describe("the lean YAML parse on broken-up documents", () => {
  it("gives yaml's value or yaml's error on 4,000 mutations of valid documents (fixed seed)", () => {
    const random = generator(7);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
    const differing: string[] = [];
    let taken = 0;
    for (let i = 0; i < 4000; i++) {
      let text = pick(SEEDS);
      for (let edits = 1 + Math.floor(random() * 3); edits > 0; edits--) {
        const at = Math.floor(random() * (text.length + 1));
        const op = random();
        if (op < 0.4) text = text.slice(0, at) + pick(ALPHABET) + text.slice(at);
        else if (op < 0.7) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(random() * 3));
        else text = text.slice(0, at) + pick(ALPHABET) + text.slice(at + 1);
      }
      if (parseYamlFast(text) === REFUSED) continue;
      taken++;
      if (!isDeepStrictEqual(outcome(parseYamlLinear, text), outcome(parse, text))) differing.push(text);
    }
    expect(differing).toEqual([]);
    // The lean path really took a good share of them (else this compares yaml with itself).
    expect(taken).toBeGreaterThan(1000);
  });
});
