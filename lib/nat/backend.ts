import type { NatConfig } from "../config/types.ts";
import type { NodeDesired } from "../desired/types.ts";
import { PeerError } from "../errors.ts";
import type { Exec, RunResult } from "../process/run.ts";
import { type NatCurrent, parseNftElements, parseNftLayout } from "./parse.ts";
import { type NatPlan, planNat } from "./plan.ts";
import { type NatSpec, natSpec } from "./spec.ts";
import type { NodeBackend } from "./types.ts";
import { checkNftName } from "./validate.ts";

// Imperative shell of the nftables backend: runs `nft` through the Exec seam
// (the local node in production, `ip netns exec` in tests) and nothing else.
// It only ever names its own table, so other tables (PVE's firewall, the
// admin's rules) are never touched.

export type NatBackend = NodeBackend<NatSpec, NatCurrent, NatPlan>;

const NFT_TIMEOUT_MS = 15_000;

export function createNatBackend(opts: { nat: NatConfig; exec: Exec; clock?: () => number }): NatBackend {
  const { nat, exec } = opts;
  const clock = opts.clock ?? Date.now;
  if (nat.backend === "none") return noNat(nat.table);
  const table = checkNftName("nat.table", nat.table);

  async function nft(args: string[], input?: string): Promise<RunResult> {
    try {
      return await exec(["nft", ...args], { input, timeoutMs: NFT_TIMEOUT_MS });
    } catch (err) {
      throw new PeerError(`nft could not be run: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const failure = (what: string, r: RunResult): PeerError =>
    new PeerError(
      `${what} failed: ${r.stderr.trim().split("\n").slice(0, 3).join(" | ") || `exit ${r.code}`}`,
    );

  return {
    render: (desired: NodeDesired, now: number) => natSpec(desired, table, now),

    async current(): Promise<NatCurrent> {
      const text = await nft(["list", "table", "ip", table]);
      if (text.code !== 0) {
        if (/No such file or directory/.test(text.stderr))
          return { table, exists: false, layout: [], forwards: [] };
        throw failure(`nft list table ip ${table}`, text);
      }
      const readAt = clock();
      const json = await nft(["-j", "list", "table", "ip", table]);
      if (json.code !== 0) throw failure(`nft -j list table ip ${table}`, json);
      try {
        return {
          table,
          exists: true,
          layout: parseNftLayout(text.stdout),
          forwards: parseNftElements(json.stdout, readAt),
        };
      } catch (err) {
        throw new PeerError(
          `cannot read table ip ${table}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    },

    plan: (desired: NodeDesired, current: NatCurrent, now: number) =>
      planNat(natSpec(desired, table, now), current, now),

    async apply(plan: NatPlan): Promise<void> {
      if (plan.script === null) return;
      if (plan.table !== table)
        throw new PeerError(`plan is for table ${plan.table}, this backend manages ${table}`);
      const r = await nft(["-f", "-"], plan.script);
      if (r.code !== 0) throw failure(`nft -f - (table ip ${table})`, r);
    },
  };
}

/** nat.backend "none": the node's NAT is someone else's business. */
function noNat(table: string): NatBackend {
  return {
    render: (desired, now) => ({ ...natSpec(desired, table, now), forwards: [] }),
    current: async () => ({ table, exists: false, layout: [], forwards: [] }),
    plan: (desired, _current, now) => {
      natSpec(desired, table, now); // bad input fails the same way whatever the backend
      return { backend: "none", table, changes: [], script: null };
    },
    apply: async () => {},
  };
}

export type { NatCurrent } from "./parse.ts";
export type { NatPlan } from "./plan.ts";
export type { NatSpec } from "./spec.ts";
export { type BackendPlan, describePlan } from "./types.ts";
