import { isIPv4, isIPv6 } from "node:net";
import { z } from "zod";
import type { Departure } from "../desired/compute.ts";
import { VmRecordFiles } from "./vm-records.ts";
import { warnOnStderr } from "./warn.ts";

// Which VM left which node when: the old node grace-forwards to it until
// its grace ends (lib/desired/ttl.ts graceEndsAt). Kept in pmxcfs (one
// small file per VM) so the old node's own `apply --local` and reconcile see
// it, even when they run later (the node was down during the move).

const departureSchema = z
  .object({
    vmid: z.number().int().positive(),
    node: z.string().min(1),
    ip: z.string().refine((ip) => isIPv4(ip)),
    ip6: z
      .string()
      .refine((ip) => isIPv6(ip))
      .optional(),
    leftAt: z.number(),
    agreedAt: z.number().optional(),
    laggingAt: z.number().optional(),
  })
  .transform(
    (d): Departure => ({
      vmid: d.vmid,
      node: d.node,
      ip: d.ip,
      ...(d.ip6 === undefined ? {} : { ip6: d.ip6 }),
      leftAt: d.leftAt,
      ...(d.agreedAt === undefined ? {} : { agreedAt: d.agreedAt }),
      ...(d.laggingAt === undefined ? {} : { laggingAt: d.laggingAt }),
    }),
  );

export class DepartureStore {
  readonly #files: VmRecordFiles<Departure>;

  constructor(dir: string, warn: (m: string) => void = warnOnStderr) {
    this.#files = new VmRecordFiles("departures", dir, departureSchema, warn);
  }

  list(): Promise<Departure[]> {
    return this.#files.list();
  }

  /** Records that `vmid` left `node`; replaces an older record of the same pair. */
  async add(d: Departure): Promise<void> {
    const mine = (await this.list()).filter((x) => x.vmid === d.vmid && x.node !== d.node);
    await this.#files.write(d.vmid, [...mine, d]);
  }

  /**
   * Notes what a propagation check saw at `at` for `vmid`'s names: every
   * server answering the new addresses (the first such time is kept: the
   * earliest proof ends grace soonest), or one still answering the old one
   * (grace goes on; lib/desired/ttl.ts graceEndsAt). False when there is no
   * departure of `vmid` from `node` left to mark.
   */
  async markPropagation(vmid: number, node: string, seen: { agreed: boolean; at: number }): Promise<boolean> {
    const mine = (await this.list()).filter((x) => x.vmid === vmid);
    const d = mine.find((x) => x.node === node);
    if (!d) return false;
    if (d.agreedAt !== undefined && (!seen.agreed || d.agreedAt <= seen.at)) return true;
    const marked: Departure = seen.agreed ? { ...d, agreedAt: seen.at } : { ...d, laggingAt: seen.at };
    await this.#files.write(
      vmid,
      mine.map((x) => (x === d ? marked : x)),
    );
    return true;
  }

  /** `add` for many (a reconcile's arrivals): the records are listed once, not once per departure. */
  async addAll(ds: readonly Departure[]): Promise<void> {
    if (ds.length === 0) return;
    const all = await this.list();
    for (const d of ds) {
      const mine = all.filter((x) => x.vmid === d.vmid && x.node !== d.node);
      await this.#files.write(d.vmid, [...mine, d]);
    }
  }

  /** Drops departures that ended before `cutoff` (epoch ms), except those `keep` says to keep. */
  async prune(cutoff: number, keep: (d: Departure) => boolean = () => false): Promise<void> {
    const all = await this.list();
    const vmids = new Set(all.map((d) => d.vmid));
    for (const vmid of vmids) {
      const mine = all.filter((d) => d.vmid === vmid);
      const kept = mine.filter((d) => d.leftAt >= cutoff || keep(d));
      if (kept.length !== mine.length) await this.#files.write(vmid, kept);
    }
  }
}
