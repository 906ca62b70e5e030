import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runWithCodeCache } from "../../bin/code-cache.ts";
import { missing } from "../support/requirements.ts";

// bin/code-cache.ts: the launcher's `dns set` fast path compiled through V8's
// code cache. Bytecode is code, so an entry is read only where root wrote it
// in a directory only root can write, and anything V8 refuses (damaged, from
// another build) is compiled around and replaced, never trusted.

const require = createRequire(import.meta.url);
// A module that uses its require and reports its own identity, as the embedded bundle does.
const SOURCE = `"use strict"; const { sep } = require("node:path"); module.exports = { sum: (a, b) => a + b, sep, name: __filename };`;

describe.skipIf(missing({ root: true }))("code cache of the launcher's fast path", () => {
  const dir = mkdtempSync(join(tmpdir(), "pvemigrate-codecache-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cacheDir = join(dir, "cache");
  const entry = join(cacheDir, "code-abc.bin");
  // Another file name each time: V8 keeps compiled scripts per isolate by source and origin, and
  // a hit there would never look at the entry (each launcher start is a fresh isolate).
  let runs = 0;
  const run = () => {
    const filename = join(dir, `launcher-${++runs}.cjs`);
    const loaded = runWithCodeCache(SOURCE, "abc", filename, require, cacheDir);
    const exports = loaded.exports as { sum: (a: number, b: number) => number; sep: string; name: string };
    expect(exports.sum(2, 3)).toBe(5);
    expect(exports.sep).toBe("/");
    expect(exports.name).toBe(filename);
    loaded.save();
  };

  it("the first run writes the entry (0600, in a 0700 directory), the next uses it as it is", () => {
    run();
    expect(readdirSync(cacheDir)).toEqual(["code-abc.bin"]);
    expect(statSync(entry).mode & 0o777).toBe(0o600);
    expect(statSync(cacheDir).mode & 0o777).toBe(0o700);
    const first = readFileSync(entry);
    const { mtimeMs } = statSync(entry);
    run();
    // Not written again: V8 took the entry.
    expect(readFileSync(entry).equals(first)).toBe(true);
    expect(statSync(entry).mtimeMs).toBe(mtimeMs);
  });

  it("a damaged entry is refused by V8, the module still runs, and save() replaces it", () => {
    writeFileSync(entry, Buffer.alloc(4096, 0x5a), { mode: 0o600 });
    run();
    const replaced = readFileSync(entry);
    expect(replaced.equals(Buffer.alloc(4096, 0x5a))).toBe(false);
    expect(replaced.length).toBeGreaterThan(0);
  });

  it("an entry others could have written (group/other-writable file or directory) is not read, and is replaced", () => {
    chmodSync(entry, 0o666);
    const before = statSync(entry).ino;
    run();
    // Not trusted: compiled without it, then written afresh (a new file, renamed over it) with the right mode.
    expect(statSync(entry).ino).not.toBe(before);
    expect(statSync(entry).mode & 0o777).toBe(0o600);
    chmodSync(cacheDir, 0o777);
    const trusted = statSync(entry).ino;
    run();
    expect(statSync(entry).ino).not.toBe(trusted);
    chmodSync(cacheDir, 0o700);
    // With both trusted again, the entry is used and left alone.
    const settled = statSync(entry).ino;
    run();
    expect(statSync(entry).ino).toBe(settled);
  });
});
