// Keeps every hand-written source file small enough to read in one sitting:
// a file over 300 lines usually does more than one job (STYLE.md "Clean
// edges"). Generated code goes to dist/, which is not scanned.

import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const SOURCE_DIRS = ["lib", "bin", "hooks", "scripts"];
const SOURCE_FILE = /\.(ts|mjs|js)$/;
const MAX_LINES = 300;

/**
 * Files still over the limit while another branch splits them. An entry that
 * is no longer over the limit fails the test, so the list cannot go stale.
 */
const BEING_SPLIT = new Set<string>([]);

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && SOURCE_FILE.test(e.name))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

function lineCount(text: string): number {
  if (text === "") return 0;
  return text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
}

const sizes = SOURCE_DIRS.flatMap(sourceFiles).map((file) => ({
  file,
  lines: lineCount(readFileSync(join(ROOT, file), "utf8")),
}));

describe("source file size", () => {
  it("counts lines the way wc -l does", () => {
    expect([
      lineCount(""),
      lineCount("a"),
      lineCount("a\n"),
      lineCount("a\nb\n"),
      lineCount("a\n\n"),
    ]).toEqual([0, 1, 1, 2, 2]);
  });

  it("scans the source folders (lib/, bin/, hooks/, scripts/)", () => {
    const files = sizes.map((s) => s.file);
    expect(files).toContain("bin/pvemigrate-dns.ts");
    expect(files).toContain("lib/errors.ts");
    expect(files.some((f) => f.startsWith("scripts/"))).toBe(true);
  });

  it(`no hand-written source file is over ${MAX_LINES} lines`, () => {
    const over = sizes
      .filter((s) => s.lines > MAX_LINES && !BEING_SPLIT.has(s.file))
      .map((s) => `${s.file} (${s.lines} lines)`);
    expect(over).toEqual([]);
  });

  it("every file listed as being split is still over the limit (drop it from the list once split)", () => {
    const done = [...BEING_SPLIT].filter((f) => (sizes.find((s) => s.file === f)?.lines ?? 0) <= MAX_LINES);
    expect(done).toEqual([]);
  });
});
