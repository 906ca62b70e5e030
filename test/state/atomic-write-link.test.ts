import { lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { tempPathFor, writeFileAtomic, writeFileAtomicSync } from "../../lib/state/atomic-write.ts";

// The temporary file of an atomic write (state files, V8 code caches through
// lib/code-cache.ts) is created exclusively: a file or link already at its
// name is an error, never written through, even when someone could guess the
// name. The token is fixed here so the name can be guessed.
vi.mock("../../lib/state/token.ts", () => ({ uniqueToken: () => "guessable" }));

describe("atomic writes never write through a link at the temporary name", () => {
  const dir = mkdtempSync(join(tmpdir(), "pvemigrate-atomic-link-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const target = join(dir, "precious");

  for (const [name, write] of [
    ["writeFileAtomicSync", async (p: string, d: string) => writeFileAtomicSync(p, d)],
    ["writeFileAtomic", (p: string, d: string) => writeFileAtomic(p, d)],
  ] as const) {
    it(`${name}: the link's target is untouched and the write fails`, async () => {
      writeFileSync(target, "precious\n");
      const file = join(dir, `state-${name}.json`);
      const temp = tempPathFor(file);
      symlinkSync(target, temp);
      await expect(write(file, "{}\n")).rejects.toThrow(/EEXIST/);
      expect(readFileSync(target, "utf8")).toBe("precious\n");
      expect(lstatSync(temp).isSymbolicLink()).toBe(true);
      rmSync(temp);
      await write(file, "{}\n");
      expect(readFileSync(file, "utf8")).toBe("{}\n");
    });
  }
});
