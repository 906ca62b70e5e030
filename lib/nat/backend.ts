import type { NodeBackend } from "../backend/types.ts";
import { checkNftName } from "../backend/validate.ts";
import type { NatConfig } from "../config/types.ts";
import type { NodeDesired } from "../desired/types.ts";
import { messageOf, PeerError } from "../errors.ts";
import type { Exec, RunResult } from "../process/run.ts";
import { type NatCurrent, parseNftElements, parseNftLayout, parseNftSets } from "./parse.ts";
import { type NatPlan, planNatFor } from "./plan.ts";
import { parseDefaultGateway, parseRules, type RoutingState } from "./policy.ts";
import { type NatSpec, natSpec } from "./spec.ts";

// Imperative shell of the nftables backend: runs `nft` (and `ip` for the
// policy routing of grace replies) through the Exec seam (the local node in
// production, `ip netns exec` in tests) and nothing else. It only ever names
// its own tables (`ip` and `ip6`, one name), its own rule priorities and
// routing tables (policy.ts), so PVE's firewall and the admin's rules are
// never touched.

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

  async function readTable(family: "ip" | "ip6") {
    const absent = { exists: false, layout: [], forwards: [], sets: {} };
    const text = await nft(["list", "table", family, table]);
    if (text.code !== 0) {
      if (/No such file or directory/.test(text.stderr)) return absent;
      throw failure(`nft list table ${family} ${table}`, text);
    }
    const readAt = clock();
    const json = await nft(["-j", "list", "table", family, table]);
    if (json.code !== 0) throw failure(`nft -j list table ${family} ${table}`, json);
    try {
      return {
        exists: true,
        layout: parseNftLayout(text.stdout),
        forwards: parseNftElements(json.stdout, readAt),
        sets: parseNftSets(json.stdout),
      };
    } catch (err) {
      throw new PeerError(`cannot read table ${family} ${table}: ${messageOf(err)}`);
    }
  }

  async function ip(args: string[]): Promise<RunResult> {
    try {
      return await exec(["ip", ...args], { timeoutMs: NFT_TIMEOUT_MS });
    } catch (err) {
      throw new PeerError(`ip could not be run: ${messageOf(err)}`);
    }
  }

  async function readRouting(): Promise<RoutingState> {
    const r = await ip(["-j", "rule", "show"]);
    if (r.code !== 0) throw failure("ip -j rule show", r);
    try {
      const rules = parseRules(r.stdout);
      const gateways: Record<string, string> = {};
      for (const t of new Set(rules.map((rule) => rule.table))) {
        const routes = await ip(["-j", "route", "show", "table", t]);
        // A table without routes may not exist at all: no gateway.
        const gw = routes.code === 0 ? parseDefaultGateway(routes.stdout) : undefined;
        if (gw !== undefined) gateways[t] = gw;
      }
      return { rules, gateways };
    } catch (err) {
      throw new PeerError(`cannot read the policy routing rules: ${messageOf(err)}`);
    }
  }

  return {
    render: (desired: NodeDesired, now: number) => natSpec(desired, table, now),

    async read(): Promise<NatCurrent> {
      const ip = await readTable("ip");
      const ip6 = await readTable("ip6");
      const current: NatCurrent = {
        table,
        exists: ip.exists,
        layout: ip.layout,
        forwards: [...ip.forwards, ...ip6.forwards],
        sets: { ...ip.sets, ...ip6.sets },
      };
      if (ip6.exists) current.ip6 = { exists: true, layout: ip6.layout };
      // Rules are only read where policy routing is on, or was (its mangle chain is still there).
      const hadPolicy = ip.layout.some((l) => l.startsWith("chain mangle:"));
      if (nat.graceMode === "policy-routing" || hadPolicy) current.routing = await readRouting();
      return current;
    },

    plan: (desired: NodeDesired, current: NatCurrent, now: number) => planNatFor(nat, desired, current, now),

    async apply(plan: NatPlan): Promise<void> {
      if (plan.table !== table)
        throw new PeerError(`plan is for table ${plan.table}, this backend manages ${table}`);
      if (plan.script !== null) {
        const r = await nft(["-f", "-"], plan.script);
        if (r.code !== 0) throw failure(`nft -f - (tables ip/ip6 ${table})`, r);
      }
      for (const args of plan.routing ?? []) {
        // Plans are plain data: only the two verbs planRouting writes, with plain words.
        if (!["rule", "route"].includes(args[0] ?? "") || !args.every((a) => /^[A-Za-z0-9./x]+$/.test(a)))
          throw new PeerError(`plan has an unexpected ip command: ${JSON.stringify(args)}`);
        const r = await ip(args);
        if (r.code !== 0) throw failure(`ip ${args.join(" ")}`, r);
      }
    },
  };
}

/** nat.backend "none": the node's NAT is someone else's business. */
function noNat(table: string): NatBackend {
  return {
    render: (desired, now) => ({ ...natSpec(desired, table, now), forwards: [] }),
    read: async () => ({ table, exists: false, layout: [], forwards: [] }),
    plan: (desired, current, now) => planNatFor({ backend: "none", table }, desired, current, now),
    apply: async () => {},
  };
}

export { type BackendPlan, describePlan } from "../backend/types.ts";
export type { NatCurrent } from "./parse.ts";
export type { NatPlan } from "./plan.ts";
export type { NatSpec } from "./spec.ts";
