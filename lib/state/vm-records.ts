import { readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { z } from "zod";
import { errnoCode, messageOf } from "../errors.ts";
import { writeFileAtomic } from "./atomic-write.ts";
import { makeDirs } from "./make-dirs.ts";
import { listDir, parseJson } from "./read.ts";

// Small records about VMs kept in pmxcfs so every node sees them (who left
// which node when, planned moves): one JSON list per VM (`<vmid>.json`), so
// writers of different VMs never rewrite each other's file. What is read
// back is parsed: a record another version or a crash left malformed is
// skipped, never trusted.

export class VmRecordFiles<T extends { vmid: number }> {
  constructor(
    /** What the records are, for warnings: "departures". */
    private readonly what: string,
    private readonly dir: string,
    private readonly schema: z.ZodType<T>,
    private readonly warn: (m: string) => void,
  ) {}

  async list(): Promise<T[]> {
    const names = await listDir(this.dir);
    const out: T[] = [];
    for (const name of names.filter((n) => /^\d+\.json$/.test(n))) {
      const file = join(this.dir, name);
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (err) {
        if (errnoCode(err) !== "ENOENT") this.warn(`${this.what} ${file}: ${messageOf(err)}; ignored`);
        continue;
      }
      // The warning names the file and the problem, never the content (parseJson).
      const parsed = parseJson(text);
      if (!parsed.ok) this.warn(`${this.what} ${file}: ${parsed.problem}; ignored`);
      if (!parsed.ok || !Array.isArray(parsed.value)) continue;
      for (const item of parsed.value) {
        const parsed = this.schema.safeParse(item);
        if (parsed.success) out.push(parsed.data);
      }
    }
    return out;
  }

  /** Replaces the VM's list; an empty list removes its file. */
  async write(vmid: number, list: readonly T[]): Promise<void> {
    const file = join(this.dir, `${vmid}.json`);
    if (list.length === 0) {
      await unlink(file).catch(() => {});
      return;
    }
    await makeDirs(this.dir);
    await writeFileAtomic(file, `${JSON.stringify(list)}\n`);
  }
}
