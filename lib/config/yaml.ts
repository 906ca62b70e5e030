import { isScalar, parse, parseDocument, visit } from "yaml";
import { parseYamlFast, REFUSED } from "./yaml-fast.ts";

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
// Before all that, most files take the lean path of yaml-fast.ts (js-yaml,
// for the memory of a 10,000-guest file), which leaves everything it does not
// read exactly as `yaml` does to the parse here.

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

/** Like `yaml`'s parse(text): the same value, the same first error thrown, the same warnings; linear in keys. */
export function parseYamlLinear(text: string): unknown {
  const fast = parseYamlFast(text);
  if (fast !== REFUSED) return fast;
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length === 0 && doc.warnings.length === 0 && !mayHaveDuplicateKey(doc)) return doc.toJS();
  return parse(text);
}
