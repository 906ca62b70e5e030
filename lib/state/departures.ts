import { readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Departure } from "../desired/compute.ts";
import { errnoCode, messageOf } from "../errors.ts";
import { writeFileAtomic } from "./atomic-write.ts";
import { makeDirs } from "./make-dirs.ts";
import { listDir, parseJson } from "./read.ts";

// Which VM left which node when: the old node grace-forwards to it until
// leftAt + graceSeconds. Kept in pmxcfs (one small file per VM) so the old
// node's own `apply --local` and reconcile see it, even when they run later
// (the node was down during the move).

export class DepartureStore {
  constructor(
    private readonly dir: string,
    private readonly warn: (m: string) => void = (m) => process.stderr.write(`pvemigrate-dns: ${m}\n`),
  ) {}

  async list(): Promise<Departure[]> {
    const names = await listDir(this.dir);
    const out: Departure[] = [];
    for (const name of names.filter((n) => /^\d+\.json$/.test(n))) {
      const file = join(this.dir, name);
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (err) {
        if (errnoCode(err) !== "ENOENT") this.warn(`departures ${file}: ${messageOf(err)}; ignored`);
        continue;
      }
      // The warning names the file and the problem, never the content (parseJson).
      const parsed = parseJson(text);
      if (!parsed.ok) this.warn(`departures ${file}: ${parsed.problem}; ignored`);
      else if (Array.isArray(parsed.value)) out.push(...parsed.value.filter(isDeparture));
    }
    return out;
  }

  /** Records that `vmid` left `node`; replaces an older record of the same pair. */
  async add(d: Departure): Promise<void> {
    const mine = (await this.list()).filter((x) => x.vmid === d.vmid && x.node !== d.node);
    await this.#write(d.vmid, [...mine, d]);
  }

  /** Drops departures that ended before `cutoff` (epoch ms), except those `keep` says to keep. */
  async prune(cutoff: number, keep: (d: Departure) => boolean = () => false): Promise<void> {
    const all = await this.list();
    const vmids = new Set(all.map((d) => d.vmid));
    for (const vmid of vmids) {
      const mine = all.filter((d) => d.vmid === vmid);
      const kept = mine.filter((d) => d.leftAt >= cutoff || keep(d));
      if (kept.length !== mine.length) await this.#write(vmid, kept);
    }
  }

  async #write(vmid: number, list: Departure[]): Promise<void> {
    const file = join(this.dir, `${vmid}.json`);
    if (list.length === 0) {
      await unlink(file).catch(() => {});
      return;
    }
    await makeDirs(this.dir);
    await writeFileAtomic(file, `${JSON.stringify(list)}\n`);
  }
}

function isDeparture(v: unknown): v is Departure {
  const d = v as Departure;
  return (
    typeof d === "object" &&
    d !== null &&
    Number.isInteger(d.vmid) &&
    typeof d.node === "string" &&
    typeof d.ip === "string" &&
    typeof d.leftAt === "number"
  );
}
