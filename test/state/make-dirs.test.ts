import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeDirs, makeDirsSync } from "../../lib/state/make-dirs.ts";

// makeDirs is `mkdir -p` that always returns: the state dir of a hook that
// holds a VM start must fail fast, never spin (Node 20's recursive mkdir does
// under /proc, where a child of an existing directory is always ENOENT).

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), `pvemigrate-mkdirs-${process.pid}-`));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const isDir = (p: string) => statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;

describe.each([
  ["makeDirs", (p: string, mode?: number) => makeDirs(p, mode === undefined ? {} : { mode })],
  ["makeDirsSync", async (p: string, mode?: number) => makeDirsSync(p, mode === undefined ? {} : { mode })],
])("%s", (name, make) => {
  it("creates every missing level with the mode asked for, and accepts an existing directory", async () => {
    const target = join(dir, name, "a", "b", "c");
    await make(target, 0o700);
    for (const p of [join(dir, name), join(dir, name, "a"), join(dir, name, "a", "b"), target]) {
      expect(isDir(p), p).toBe(true);
      expect(statSync(p).mode & 0o777, p).toBe(0o700);
    }
    await expect(make(target, 0o700)).resolves.toBeUndefined();
    await expect(make(`${dir}/${name}/a/./b/../b/c`)).resolves.toBeUndefined();
  });

  it("fails with ENOTDIR below a regular file, creating nothing", async () => {
    const file = join(dir, `${name}-file`);
    writeFileSync(file, "");
    await expect(make(join(file, "x", "y"))).rejects.toMatchObject({ code: "ENOTDIR" });
    await expect(make(file)).rejects.toMatchObject({ code: "ENOTDIR" });
  });

  it("fails with ENOENT under /proc instead of spinning", async () => {
    await expect(make("/proc/self/pvemigrate-missing/x/y")).rejects.toMatchObject({ code: "ENOENT" });
    await expect(make("/proc/1/pvemigrate-missing")).rejects.toMatchObject({ code: "ENOENT" });
    expect(isDir("/proc/self/pvemigrate-missing")).toBe(false);
  });
});

describe("makeDirs racing another creator", () => {
  it("two concurrent calls for the same new tree both succeed", async () => {
    const target = join(dir, "race", "p", "q");
    mkdirSync(join(dir, "race"));
    await expect(Promise.all([makeDirs(target), makeDirs(target), makeDirs(target)])).resolves.toHaveLength(
      3,
    );
    expect(isDir(target)).toBe(true);
  });
});
