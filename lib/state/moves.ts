import { z } from "zod";
import type { PlannedMove } from "../desired/ttl.ts";
import { VmRecordFiles } from "./vm-records.ts";
import { warnOnStderr } from "./warn.ts";

// Planned moves (`migrate`): "VM X's names are served with moveTtl since T,
// for its move from node A". Kept in pmxcfs next to the departures, so every
// node's reconcile computes the same desired TTL (lib/desired/ttl.ts) and the
// lowered TTL survives a crash of the process that lowered it: the next
// reconcile restores it once the move's grace is over (or the record expired).

const ttl = z.number().int().min(1).max(86_400);
const moveSchema = z.object({
  vmid: z.number().int().positive(),
  from: z.string().min(1),
  to: z.string().min(1),
  oldTtl: ttl,
  moveTtl: ttl,
  loweredAt: z.number(),
  expiresAt: z.number(),
}) satisfies z.ZodType<PlannedMove>;

export class MoveStore {
  readonly #files: VmRecordFiles<PlannedMove>;

  constructor(dir: string, warn: (m: string) => void = warnOnStderr) {
    this.#files = new VmRecordFiles("moves", dir, moveSchema, warn);
  }

  list(): Promise<PlannedMove[]> {
    return this.#files.list();
  }

  /** Records a planned move; replaces an older one of the same VM from the same node. */
  async add(m: PlannedMove): Promise<void> {
    const mine = (await this.list()).filter((x) => x.vmid === m.vmid && x.from !== m.from);
    await this.#files.write(m.vmid, [...mine, m]);
  }

  /** Forgets one planned move (it did not happen): its names go back to dns.ttl. */
  async remove(m: Pick<PlannedMove, "vmid" | "from" | "loweredAt">): Promise<void> {
    const all = (await this.list()).filter((x) => x.vmid === m.vmid);
    const kept = all.filter((x) => x.from !== m.from || x.loweredAt !== m.loweredAt);
    if (kept.length !== all.length) await this.#files.write(m.vmid, kept);
  }

  /** Drops the moves `over` says have ended. */
  async prune(over: (m: PlannedMove) => boolean): Promise<void> {
    const all = await this.list();
    for (const vmid of new Set(all.map((m) => m.vmid))) {
      const mine = all.filter((m) => m.vmid === vmid);
      const kept = mine.filter((m) => !over(m));
      if (kept.length !== mine.length) await this.#files.write(vmid, kept);
    }
  }
}
