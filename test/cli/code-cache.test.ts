import {
  chmodSync,
  copyFileSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { runWithCodeCache } from "../../bin/code-cache.ts";
import { tempPathFor } from "../../lib/state/atomic-write.ts";
import { missing } from "../support/requirements.ts";

// bin/code-cache.ts: the launcher's `dns set` fast path compiled through V8's
// code cache. Bytecode is code, so an entry is read only where root wrote it
// in a directory only root can write (and written only there, never through
// a link), and anything V8 refuses (damaged, from
// another build) is compiled around and replaced, never trusted.

vi.mock("../../lib/state/token.ts", () => ({ uniqueToken: () => "guessable" }));

const require = createRequire(import.meta.url);
// A module that uses its require and reports its own identity, as the embedded bundle does.
const SOURCE = `"use strict"; const { sep } = require("node:path"); module.exports = { sum: (a, b) => a + b, sep, name: __filename };`;

describe.skipIf(missing({ root: true }))("code cache of the launcher's fast path", () => {
  const dir = mkdtempSync(join(tmpdir(), "pvemigrate-codecache-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cacheDir = join(dir, "cache");
  const entryName = `code-abc-${process.version}.bin`;
  const entry = join(cacheDir, entryName);
  // save()'s temporary name, made guessable here (the token is fixed below): a link planted there must not be written through.
  const temp = tempPathFor(entry);
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
    expect(readdirSync(cacheDir)).toEqual([entryName]);
    expect(statSync(entry).mode & 0o777).toBe(0o600);
    expect(statSync(cacheDir).mode & 0o777).toBe(0o700);
    const first = readFileSync(entry);
    const { ino } = statSync(entry);
    run();
    // Not written again (a rewrite is a new file renamed over it): V8 took the entry.
    expect(statSync(entry).ino).toBe(ino);
    expect(readFileSync(entry).equals(first)).toBe(true);
  });

  it("a damaged entry is refused by V8, the module still runs, and save() replaces it", () => {
    writeFileSync(entry, Buffer.alloc(4096, 0x5a), { mode: 0o600 });
    run();
    const replaced = readFileSync(entry);
    expect(replaced.equals(Buffer.alloc(4096, 0x5a))).toBe(false);
    expect(replaced.length).toBeGreaterThan(0);
  });

  it("an entry is sealed (its length, the data twice); one whose copies differ is never handed to V8, and is replaced", () => {
    // V8 does not check its data's bytes: a flipped bit in bytecode can abort the process (lib/code-cache.ts).
    run();
    const good = readFileSync(entry);
    const length = good.readUInt32LE(0);
    expect(good.length).toBe(8 + 2 * length);
    expect(good.subarray(8, 8 + length).equals(good.subarray(8 + length))).toBe(true);
    const damaged = Buffer.from(good);
    const at = damaged.length - 100;
    damaged.writeUInt8(damaged.readUInt8(at) ^ 0x01, at);
    writeFileSync(entry, damaged, { mode: 0o600 });
    const before = statSync(entry).ino;
    run();
    expect(statSync(entry).ino).not.toBe(before);
    expect(readFileSync(entry).equals(damaged)).toBe(false);
  });

  it("an entry others could have written (group/other-writable file) is not read, and is replaced", () => {
    chmodSync(entry, 0o666);
    const before = statSync(entry).ino;
    run();
    // Not trusted: compiled without it, then written afresh (a new file, renamed over it) with the right mode.
    expect(statSync(entry).ino).not.toBe(before);
    expect(statSync(entry).mode & 0o777).toBe(0o600);
  });

  it("in a directory others can write to, the entry is neither read nor written", () => {
    const trusted = statSync(entry).ino;
    chmodSync(entry, 0o666);
    chmodSync(cacheDir, 0o777);
    try {
      run();
      expect(statSync(entry).ino).toBe(trusted);
      expect(readdirSync(cacheDir)).toEqual([entryName]);
    } finally {
      chmodSync(cacheDir, 0o700);
      chmodSync(entry, 0o600);
    }
    // With both trusted again, the entry is used and left alone.
    run();
    expect(statSync(entry).ino).toBe(trusted);
  });

  it("a link planted at the temporary name is never written through, in a shared or a trusted directory", () => {
    const target = join(dir, "target");
    writeFileSync(target, "precious\n", { mode: 0o644 });
    rmSync(entry);
    symlinkSync(target, temp);
    try {
      chmodSync(cacheDir, 0o777);
      run();
      chmodSync(cacheDir, 0o700);
      expect(readFileSync(target, "utf8")).toBe("precious\n");
      // Trusted directory, no entry: save() tries, and the exclusive create fails on the link.
      run();
      expect(readFileSync(target, "utf8")).toBe("precious\n");
      expect(lstatSync(temp).isSymbolicLink()).toBe(true);
    } finally {
      chmodSync(cacheDir, 0o700);
      unlinkSync(temp);
    }
    run();
    expect(lstatSync(entry).isFile()).toBe(true);
  });

  it("an entry that is a link (even to a good entry of root's) is not read, and is replaced by a file", () => {
    const elsewhere = join(dir, "good-entry.bin");
    copyFileSync(entry, elsewhere);
    chmodSync(elsewhere, 0o600);
    rmSync(entry);
    symlinkSync(elsewhere, entry);
    run();
    // Not read (a usable entry is never rewritten): save() renamed a file over the link.
    expect(lstatSync(entry).isSymbolicLink()).toBe(false);
    expect(lstatSync(entry).isFile()).toBe(true);
  });
});
