import type { Change } from "../plan/types.ts";
import type { NatSpec } from "./spec.ts";

// PURE: the policy routing behind nat.graceMode policy-routing, on the VM's
// NEW node. The old node DNATs grace traffic to the VM without masquerading,
// so the VM sees the client's address and answers through its gateway, this
// node. Connections from the mesh to a VM that arrived from peer k carry k in
// the top byte of their ct mark (the nft mangle chain, render.ts); the
// replies get it as their packet mark, and one `ip rule` per peer sends them
// to a routing table whose only route is the peer's mesh address. There the
// old node's conntrack entry turns them back into its public address.
//
// The rules live outside nft, so they are read back (`ip -j rule show`,
// `ip -j route show table N`) and converged like the table. This module owns
// rule priorities and routing tables ROUTING_BASE+1 .. ROUTING_BASE+255.

/** Top byte of the ct/packet mark: the peer number (1-255). */
export const PEER_MARK_MASK = 0xff000000;
export const ROUTING_BASE = 7400;

export const peerMark = (index: number): string => `0x${((index << 24) >>> 0).toString(16).padStart(8, "0")}`;

export interface RuleState {
  priority: number;
  fwmark?: number;
  fwmask?: number;
  table: string;
}

export interface RoutingState {
  /** Rules in our priority range. */
  rules: RuleState[];
  /** Routing table -> gateway of its default route (absent: no default route). */
  gateways: Record<string, string>;
}

const isOurs = (priority: number) => priority > ROUTING_BASE && priority <= ROUTING_BASE + 255;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `ip -j rule show` -> our rules (anything unexpected in them throws). */
export function parseRules(json: string): RuleState[] {
  const doc: unknown = JSON.parse(json || "[]");
  if (!Array.isArray(doc)) throw new Error("ip -j rule show: not a list");
  const out: RuleState[] = [];
  for (const r of doc) {
    if (!isRecord(r) || typeof r.priority !== "number" || !isOurs(r.priority)) continue;
    const hex = (v: unknown) => (typeof v === "string" && /^0x[0-9a-f]+$/i.test(v) ? Number(v) : undefined);
    const rule: RuleState = { priority: r.priority, table: String(r.table ?? "") };
    const fwmark = hex(r.fwmark);
    const fwmask = hex(r.fwmask);
    if (fwmark !== undefined) rule.fwmark = fwmark;
    if (fwmask !== undefined) rule.fwmask = fwmask;
    out.push(rule);
  }
  return out;
}

/** `ip -j route show table N` -> the default route's gateway, if any. */
export function parseDefaultGateway(json: string): string | undefined {
  const doc: unknown = JSON.parse(json || "[]");
  if (!Array.isArray(doc)) throw new Error("ip -j route show: not a list");
  const route = doc.find((r) => isRecord(r) && r.dst === "default");
  return isRecord(route) && typeof route.gateway === "string" ? route.gateway : undefined;
}

export interface RoutingPlan {
  changes: Change[];
  /** `ip` argument lists, in order. */
  commands: string[][];
}

/** What to change so that exactly the spec's peers have their rule and route. */
export function planRouting(spec: NatSpec, have: RoutingState): RoutingPlan {
  const changes: Change[] = [];
  const commands: string[][] = [];
  const wanted = new Map((spec.peers ?? []).map((p) => [ROUTING_BASE + p.index, p]));
  for (const rule of have.rules) {
    const peer = wanted.get(rule.priority);
    const exact =
      peer !== undefined &&
      rule.table === String(rule.priority) &&
      rule.fwmark === Number(peerMark(peer.index)) &&
      rule.fwmask === PEER_MARK_MASK;
    if (exact) continue;
    changes.push({
      op: "remove",
      backend: "nat",
      key: `ip rule priority ${rule.priority}`,
      note: `lookup ${rule.table}`,
    });
    commands.push(["rule", "del", "priority", String(rule.priority)]);
    if (!wanted.has(Number(rule.table)) && have.gateways[rule.table] !== undefined) {
      commands.push(["route", "flush", "table", rule.table]);
    }
  }
  for (const [table, peer] of wanted) {
    const label = `grace replies for ${peer.node} via ${peer.via}`;
    if (have.gateways[String(table)] !== peer.via) {
      changes.push({
        op: "add",
        backend: "nat",
        key: `ip route default via ${peer.via} table ${table}`,
        note: label,
      });
      commands.push(["route", "replace", "default", "via", peer.via, "table", String(table)]);
    }
    const present = have.rules.some(
      (r) =>
        r.priority === table &&
        r.table === String(table) &&
        r.fwmark === Number(peerMark(peer.index)) &&
        r.fwmask === PEER_MARK_MASK,
    );
    if (!present) {
      const mark = `${peerMark(peer.index)}/0x${PEER_MARK_MASK.toString(16)}`;
      changes.push({ op: "add", backend: "nat", key: `ip rule fwmark ${mark} lookup ${table}`, note: label });
      commands.push(["rule", "add", "fwmark", mark, "lookup", String(table), "priority", String(table)]);
    }
  }
  return { changes, commands };
}
