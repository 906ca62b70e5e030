import { isScalar, parse, parseDocument, visit } from "yaml";

// The config file's YAML parse, linear in the number of keys. The `yaml`
// package refuses a key given twice in one map (uniqueKeys, on by default),
// but checks it by comparing each new key with every earlier key of its map
// (compose/util-map-includes.js `mapIncludes`: `items.some(...)`): quadratic
// in a `vms` map of 10,000 guests (seconds, where the parse itself is linear).
//
// So the document is composed without that check, and one pass over its maps
// with a hash set per map looks for keys the package would call equal (the
// same node, or two scalars with the same value). Only when it finds one, or
// the document has any error or warning, is the text parsed again by the
// package with its own check: the error (or warning) the user sees is then
// the package's own, word for word, with its line and column, and a file the
// package accepts is accepted. A false alarm of the pass costs time, never a
// different answer.
//
// Memory: the package holds the whole document's syntax tree and node tree
// at once (~120 MiB of heap for a 1 MiB file of 10,000 guests, which then
// stays the process's RSS). A `vms` section written one guest per line (the
// only way 10,000 guests fit in pmxcfs's 1 MiB) is therefore parsed in
// slices of lines, each by the same package with the same options; see
// oneLineVms for when that gives exactly the whole parse's value. Anything
// else, and any error, warning or key seen twice, goes the whole way.

/** Guest lines parsed per slice: small enough that one slice's trees are a few MiB. */
const SLICE_LINES = 500;

/**
 * One guest on one line, `<indent><vmid>: {…}`: a flow map of plain scalars
 * and flow sequences, no quotes, anchors, aliases, tags, comments, nested
 * maps or complex keys, so the line can neither continue nor be continued by
 * another.
 */
const ONE_LINE_GUEST = /^( +)\d+: *\{[^\t\r"'&*!|>%@`#?{}]*\} *$/;
const BLANK_OR_COMMENT = /^[ ]*(#.*)?$/;

/**
 * The text split around its `vms:` section when that section is one guest
 * per line (ONE_LINE_GUEST, one indent) with only blank and comment lines
 * between; undefined otherwise. The section starts at a line `vms:` at
 * column 0 and ends before the next line at column 0 that is neither blank
 * nor a comment. No directives anywhere (a %YAML line would change how the
 * guests' lines read), no document marker after the first line, and the part
 * before starts at column 0.
 */
export function oneLineVms(text: string): { before: string; guests: string[]; after: string } | undefined {
  if (text.startsWith("%") || text.includes("\n%")) return undefined;
  // A document marker after the first line: the parts parsed alone would each be one document.
  if (text.startsWith("...") || /\n(---|\.\.\.)/.test(text)) return undefined;
  const at = text.startsWith("vms:\n") ? 0 : text.indexOf("\nvms:\n") + 1;
  if (at === 0 && !text.startsWith("vms:\n")) return undefined;
  const before = text.slice(0, at);
  if (
    before
      .split("\n")
      .find((l) => !BLANK_OR_COMMENT.test(l))
      ?.startsWith(" ")
  )
    return undefined;
  const rest = text.slice(at + "vms:\n".length).split("\n");
  const guests: string[] = [];
  let indent: string | undefined;
  let end = 0;
  for (; end < rest.length; end++) {
    const line = rest[end]!;
    if (BLANK_OR_COMMENT.test(line)) continue;
    if (!line.startsWith(" ")) break;
    const m = ONE_LINE_GUEST.exec(line);
    indent ??= m?.[1];
    if (!m || m[1] !== indent) return undefined;
    guests.push(line);
  }
  if (guests.length === 0) return undefined;
  return { before, guests, after: rest.slice(end).join("\n") };
}

/** Whether some map of the document has two keys `yaml`'s uniqueKeys would call equal (or NaN twice: a false alarm). */
function mayHaveDuplicateKey(doc: ReturnType<typeof parseDocument>): boolean {
  let found = false;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        // Collections and aliases as keys are equal only to themselves: never twice in one map.
        if (!isScalar(pair.key)) continue;
        if (seen.has(pair.key.value)) {
          found = true;
          return visit.BREAK;
        }
        seen.add(pair.key.value);
      }
      return undefined;
    },
  });
  return found;
}

/** A part that only the whole document's parse may answer for: an error, a warning, a key maybe given twice. */
const WHOLE = Symbol("whole parse");

/** `text` as the package parses it, or WHOLE. */
function partValue(text: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length > 0 || doc.warnings.length > 0 || mayHaveDuplicateKey(doc)) return WHOLE;
  return doc.toJS();
}

/** A part of the top-level map: an object ({} when empty), else WHOLE. */
function mapPart(text: string): Record<string, unknown> | typeof WHOLE {
  const value = partValue(text);
  if (value === null) return {};
  if (value === WHOLE || typeof value !== "object" || Array.isArray(value)) return WHOLE;
  return Object.hasOwn(value, "__proto__") ? WHOLE : (value as Record<string, unknown>);
}

/** The sliced parse of oneLineVms' parts; WHOLE when the whole parse must answer. */
function slicedValue(parts: { before: string; guests: string[]; after: string }): unknown {
  const before = mapPart(parts.before);
  const after = before === WHOLE ? WHOLE : mapPart(parts.after);
  if (before === WHOLE || after === WHOLE) return WHOLE;
  if (Object.hasOwn(before, "vms") || Object.hasOwn(after, "vms")) return WHOLE;
  if (Object.keys(after).some((k) => Object.hasOwn(before, k))) return WHOLE;
  const vms: Record<string, unknown> = {};
  for (let i = 0; i < parts.guests.length; i += SLICE_LINES) {
    const slice = mapPart(parts.guests.slice(i, i + SLICE_LINES).join("\n"));
    if (slice === WHOLE) return WHOLE;
    for (const [vmid, block] of Object.entries(slice)) {
      if (Object.hasOwn(vms, vmid)) return WHOLE;
      vms[vmid] = block;
    }
  }
  return { ...before, vms, ...after };
}

/** Like `yaml`'s parse(text): the same value, the same first error thrown, the same warnings; linear in keys. */
export function parseYamlLinear(text: string): unknown {
  const parts = oneLineVms(text);
  const sliced = parts ? slicedValue(parts) : WHOLE;
  if (sliced !== WHOLE) return sliced;
  const value = partValue(text);
  return value === WHOLE ? parse(text) : value;
}
