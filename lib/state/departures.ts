import { isIPv4, isIPv6 } from "node:net";
import { z } from "zod";
import type { Departure } from "../desired/compute.ts";
import { VmRecordFiles } from "./vm-records.ts";

// Which VM left which node when: the old node grace-forwards to it until
// leftAt + its grace (lib/desired/ttl.ts graceMsFor). Kept in pmxcfs (one
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
  })
  .transform(
    (d): Departure => ({
      vmid: d.vmid,
      node: d.node,
      ip: d.ip,
      ...(d.ip6 === undefined ? {} : { ip6: d.ip6 }),
      leftAt: d.leftAt,
    }),
  );

export class DepartureStore {
  readonly #files: VmRecordFiles<Departure>;

  constructor(
    dir: string,
    warn: (m: string) => void = (m) => process.stderr.write(`pvemigrate-dns: ${m}\n`),
  ) {
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
