import { formatPath } from "./normalize.ts";
import type { Problem } from "./types.ts";

// Key checks the parsers leave out. JSON.parse keeps the last of two equal
// keys without a word (the YAML parser refuses them), and both parsers turn a
// "__proto__" key into an own property, which code that copies records key by
// key (`out[key] = ...`) would take for the object's prototype. Both are
// refused with the key's path, like any other bad field.
//
// Duplicates are found by one linear scan of the JSON text rather than by
// re-parsing it with the YAML parser's uniqueKeys check: that check compares
// each key with every earlier one of its map, quadratic in a `vms` map of
// 10,000 guests.

/** A "__proto__" key anywhere in a parsed document (YAML or JSON), by path. */
export function protoKeyProblems(value: unknown, path: PropertyKey[] = []): Problem[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => protoKeyProblems(v, [...path, i]));
  if (!value || typeof value !== "object") return [];
  const problems: Problem[] = [];
  for (const key of Object.keys(value)) {
    const child = [...path, key];
    if (key === "__proto__") {
      problems.push({ path: formatPath(child), message: 'a key named "__proto__" is not allowed' });
    } else {
      problems.push(...protoKeyProblems((value as Record<string, unknown>)[key], child));
    }
  }
  return problems;
}

type Frame =
  | { kind: "object"; path: PropertyKey[]; keys: Set<string>; key?: string; wantKey: boolean }
  | { kind: "array"; path: PropertyKey[]; index: number };

/** Where a value opened inside `parent` sits. */
function childPath(parent: Frame | undefined): PropertyKey[] {
  if (!parent) return [];
  return parent.kind === "object" ? [...parent.path, parent.key ?? ""] : [...parent.path, parent.index];
}

/** End index (the closing quote) of the JSON string starting at `start`. */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
  return i;
}

/**
 * Keys given twice in one object of a JSON text that JSON.parse accepted.
 * Strings are decoded, so "a" and "\u0061" are the same key, as for JSON.parse.
 */
export function duplicateJsonKeys(text: string): Problem[] {
  const problems: Problem[] = [];
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const top = stack.at(-1);
    if (c === '"') {
      const end = stringEnd(text, i);
      if (top?.kind === "object" && top.wantKey) {
        const raw = text.slice(i, end + 1);
        const key = raw.includes("\\") ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (top.keys.has(key)) {
          problems.push({
            path: formatPath([...top.path, key]),
            message: "given twice in one object (JSON would silently keep the last)",
          });
        }
        top.keys.add(key);
        top.key = key;
        top.wantKey = false;
      }
      i = end;
    } else if (c === "{")
      stack.push({ kind: "object", path: childPath(top), keys: new Set(), wantKey: true });
    else if (c === "[") stack.push({ kind: "array", path: childPath(top), index: 0 });
    else if (c === "}" || c === "]") stack.pop();
    else if (c === "," && top?.kind === "object") top.wantKey = true;
    else if (c === "," && top?.kind === "array") top.index++;
  }
  return problems;
}
