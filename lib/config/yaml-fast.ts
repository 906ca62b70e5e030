import {
  COLLECTION_STYLE_BLOCK,
  CORE_SCHEMA,
  constructFromEvents,
  defineMappingTag,
  EVENT_ALIAS,
  EVENT_DOCUMENT,
  EVENT_MAPPING,
  EVENT_POP,
  EVENT_SCALAR,
  EVENT_SEQUENCE,
  type Event,
  floatCoreTag,
  intCoreTag,
  NOT_RESOLVED,
  parseEvents,
  type ScalarTagDefinition,
} from "js-yaml";

// The config's everyday YAML parse, lean: `js-yaml` builds plain values from a
// flat list of events (~100 MiB peak RSS and 0.3 s for a 1 MiB file of 10,000
// guests), where the `yaml` package holds a syntax tree and a node tree of the
// whole file at once (~250 MiB and 1.7 s: issue 16's memory floor).
//
// `yaml` stays the reference (yaml.ts): this path takes only documents on which
// the two give the same value, and returns REFUSED for anything else, which
// yaml.ts then parses with `yaml` as before (its value, or its error word for
// word). So a bad file still gets yaml's message with its line and column, and
// the differences between the two parsers never reach a config:
// - explicit tags (`!!float 1` is 1 here, "1" with a warning there; `!foo`),
//   anchors and aliases (`yaml` bounds alias expansion; refused here rather
//   than shared), and directives (`%YAML 1.1` makes `yes` true in `yaml`);
// - keys other than strings, numbers and booleans (`yaml` writes a null key as
//   "", a collection key as its YAML text, with a warning), and two keys with
//   the same text, which includes `1` and `'1'` (`yaml` keeps the last one);
// - a document whose root is not a mapping (a config is one), and any block
//   scalar with an indentation indicator (`|2`: lines of only spaces in it
//   are content for js-yaml, as the spec says, and dropped by `yaml`);
// - an empty stream, more than one document, a `...` marker at a line's
//   start, and lines over 1024 characters (where `yaml` refuses long keys);
// - a CR not followed by LF (a line break for js-yaml, not for `yaml`), and any
//   `\U` escape (js-yaml takes `"\U00110000"` and surrogates, `yaml` refuses);
// - a plain int or float beyond a double (`1e400`, 320 digits, a long `0x`):
//   js-yaml keeps its text as a string, `yaml` makes it Infinity;
// - a mapping key after content on its line (js-yaml reads `a:\n- "x" z: 1`
//   as a key z of the outer mapping, `yaml` refuses it).
// Numbers, booleans, nulls and strings of the core schema are the same in both
// (test/config/yaml-fast.test.ts compares them form by form).

/** What parseYamlFast returns for a document it leaves to the `yaml` package. */
export const REFUSED: unique symbol = Symbol("left to the yaml package");

/**
 * A mapping as an object, like `yaml`'s toJS: the key's String() as the
 * property, own and enumerable (so "__proto__" is a key, found and refused by
 * keys.ts, never the prototype). A key of another type is refused.
 */
const plainMap = defineMappingTag<Record<string, unknown>>("tag:yaml.org,2002:map", {
  create: () => ({}),
  addPair: (map, key, value) => {
    if (typeof key !== "string" && typeof key !== "number" && typeof key !== "boolean")
      return "only strings, numbers and booleans as keys on this path";
    Object.defineProperty(map, String(key), { value, writable: true, enumerable: true, configurable: true });
    return "";
  },
  has: (map, key) => Object.hasOwn(map, String(key)),
  keys: (map) => Object.keys(map),
  get: (map, key) => map[String(key)],
  identify: () => false,
});

/** The int and float forms of `yaml`'s core schema (.inf/.nan are numbers on both sides). */
const CORE_INT = /^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$/;
const CORE_FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;

/** Thrown (and so the document refused) where js-yaml would keep a number's text as a string. */
class NumberBeyondADouble extends Error {}

/**
 * The core int or float tag, but a plain scalar in its form that js-yaml does
 * not resolve (not finite: it would fall through to a string, where `yaml`
 * gives ±Infinity) throws, which refuses the whole document.
 */
function numberOrRefuse(tag: ScalarTagDefinition<number>, form: RegExp): ScalarTagDefinition<number> {
  return {
    ...tag,
    resolve: (source, isExplicit, tagName) => {
      const value = tag.resolve(source, isExplicit, tagName);
      if (value === NOT_RESOLVED && form.test(source)) throw new NumberBeyondADouble(source.slice(0, 40));
      return value;
    },
  };
}

const schema = CORE_SCHEMA.withTags(
  plainMap,
  numberOrRefuse(intCoreTag, CORE_INT),
  numberOrRefuse(floatCoreTag, CORE_FLOAT),
);

/** Whether some event names a tag, an anchor or an alias, or the document has directives. */
function decoratedNode(events: readonly Event[]): boolean {
  for (const e of events) {
    if (e.type === EVENT_ALIAS) return true;
    if (e.type === EVENT_DOCUMENT) {
      if (e.directives.length > 0) return true;
    } else if ("tagStart" in e && (e.tagStart >= 0 || e.anchorStart >= 0)) return true;
  }
  return false;
}

/** A frame of the nesting walked in keyNotStartingALine: a mapping counts its keys and values. */
interface Frame {
  blockMap: boolean;
  nodes: number;
}

/**
 * Whether a block mapping has a key after its first that does not start its
 * line (only spaces before it, or `? `, or its opening quote). js-yaml takes
 * `a:\n- "x" z: 1` (a sequence item at its mapping's indentation, then more
 * on that line) as `{a: [x], z: 1}`; `yaml` refuses it, as YAML does.
 */
function keyNotStartingALine(events: readonly Event[], text: string): boolean {
  const stack: Frame[] = [];
  for (const e of events) {
    if (e.type === EVENT_POP) {
      stack.pop();
      continue;
    }
    const parent = stack.at(-1);
    if (parent?.blockMap && e.type === EVENT_SCALAR && parent.nodes % 2 === 0 && parent.nodes > 0) {
      const lineStart = text.lastIndexOf("\n", e.valueStart - 1) + 1;
      if (!/^ *(?:\?[ \t]+)?["']?$/.test(text.slice(lineStart, e.valueStart))) return true;
    }
    if (parent) parent.nodes++;
    if (e.type === EVENT_MAPPING || e.type === EVENT_SEQUENCE || e.type === EVENT_DOCUMENT)
      stack.push({ blockMap: e.type === EVENT_MAPPING && e.style === COLLECTION_STYLE_BLOCK, nodes: 0 });
  }
  return false;
}

/** The longest implicit key `yaml` takes (the YAML spec's limit), and so a bound on lines taken here. */
const MAX_IMPLICIT_KEY = 1024;

/**
 * Text `yaml` reads otherwise: a `...` document end marker at a line's start
 * (`yaml` counts what precedes it as a document of its own), a CR alone (a
 * line break for js-yaml only: a comment or a value there ends early), a `\U`
 * escape (js-yaml takes code points over 0x10FFFF and surrogates, `yaml`
 * refuses them), what may be a block scalar header with an indentation
 * indicator (`|2`, `>-1`, `|+3` after a space or at a line's start: the two
 * read such scalars differently; a plain `a |2` is refused too, which costs
 * only the lean path), a tab in a line's indentation (an error in `yaml`,
 * not always in js-yaml), `---` or `...` after spaces at a line's start (read
 * as a marker by js-yaml), an escaped line break in a double-quoted scalar
 * followed by a blank line (a space in `yaml`, nothing in js-yaml), a byte
 * order mark other than the text's first character, or a line
 * long enough to hold an implicit key over 1024 characters (an error in `yaml`).
 */
function outsideTheLeanPath(text: string): boolean {
  if (/^\.\.\./m.test(text) || /\r(?!\n)/.test(text) || text.includes("\\U")) return true;
  if (/(?:^|[ \t])[|>][-+]?[1-9]/m.test(text)) return true;
  // A tab in a line's indentation, a document marker after spaces, an escaped line break before a blank line.
  if (/^ *\t|^[ \t]+(?:---|\.\.\.)|\\\r?\n[ \t]*(?:\r?\n|$)/m.test(text)) return true;
  // A byte order mark after the first character (`yaml` drops one at a line's start, js-yaml keeps it).
  if (text.indexOf("\ufeff", 1) >= 0) return true;
  for (let start = 0; start < text.length; ) {
    const end = text.indexOf("\n", start);
    const next = end < 0 ? text.length : end;
    if (next - start > MAX_IMPLICIT_KEY) return true;
    start = next + 1;
  }
  return false;
}

/** The document's value, or REFUSED when the `yaml` package must decide (see above). */
export function parseYamlFast(text: string): unknown {
  if (outsideTheLeanPath(text)) return REFUSED;
  try {
    const events = parseEvents(text, {});
    const documents = events.reduce((n, e) => (e.type === EVENT_DOCUMENT ? n + 1 : n), 0);
    // A config is a mapping; a scalar at the root is read differently (a root `|2` block scalar's indentation).
    if (documents !== 1 || events[1]?.type !== EVENT_MAPPING || decoratedNode(events)) return REFUSED;
    if (keyNotStartingALine(events, text)) return REFUSED;
    const values = constructFromEvents(events, { source: text, schema, maxAliases: 0 });
    return values.length === 1 ? values[0] : REFUSED;
  } catch {
    return REFUSED;
  }
}
