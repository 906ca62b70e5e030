import { graceNote } from "../backend/grace.ts";
import type { BackendPlan } from "../backend/types.ts";
import type { NatConfig } from "../config/types.ts";
import type { NodeDesired } from "../desired/types.ts";
import type { Change } from "../plan/types.ts";
import type { NatCurrent, TableState } from "./parse.ts";
import { planRouting } from "./policy.ts";
import { layoutLines, nftFamily, renderNftScript, setElements, tableLayout, wantsTable } from "./render.ts";
import { type Family, familyOf, forwardKey, type NatForward, type NatSpec, natSpec } from "./spec.ts";

// PURE: desired spec vs. read-back tables (and policy routes) -> the printable
// changes and, when there are any, the script that replaces the tables and
// the `ip` commands that fix the routing.

export interface NatPlan extends BackendPlan {
  backend: "nftables" | "none";
  table: string;
  /** The `nft -f -` transaction; null when nothing changes. */
  script: string | null;
  /** `ip` argument lists for the policy routing of grace replies; absent or empty: none. */
  routing?: string[][];
}

/**
 * nft -j reports a grace element's remaining time in whole seconds, and the
 * clock runs between reading and planning: end times closer than this are equal.
 */
export const GRACE_TOLERANCE_MS = 3000;

/** Where a forward points: "10.10.1.101:22 (vm 101) [grace, 30s left]". */
export function describeTarget(f: NatForward, now: number): string {
  const vm = f.vmid === undefined ? "" : ` (vm ${f.vmid})`;
  const target = familyOf(f) === 6 ? `[${f.target}]` : f.target;
  return `${target}:${f.targetPort}${vm}${graceNote(f.graceUntil, now)}`;
}

export function describeForward(f: NatForward, now: number): string {
  return `${forwardKey(f)} -> ${describeTarget(f, now)}`;
}

function forwardChange(op: Change["op"], f: NatForward, now: number, old?: NatForward): Change {
  return {
    op,
    backend: "nat",
    ...(f.vmid === undefined ? {} : { vmid: f.vmid }),
    key: forwardKey(f),
    ...(op === "remove" ? { before: describeTarget(f, now) } : { after: describeTarget(f, now) }),
    ...(old === undefined ? {} : { before: describeTarget(old, now) }),
  };
}

function sameForward(a: NatForward, b: NatForward): boolean {
  if (a.target !== b.target || a.targetPort !== b.targetPort) return false;
  if (a.graceUntil === undefined || b.graceUntil === undefined) return a.graceUntil === b.graceUntil;
  return Math.abs(a.graceUntil - b.graceUntil) <= GRACE_TOLERANCE_MS;
}

function layoutChanges(spec: NatSpec, have: TableState, family: Family, now: number): Change[] {
  const key = `table ${nftFamily(family)} ${spec.table}`;
  if (!wantsTable(spec, family))
    return have.exists ? [{ op: "remove", backend: "nat", key, note: "the node has no publicIPv6" }] : [];
  if (!have.exists) {
    const network = family === 4 ? spec.vmNetwork : (spec.vmNetwork6 ?? "no vmNetwork6");
    return [{ op: "add", backend: "nat", key, note: `masquerade ${network} on ${spec.publicInterface}` }];
  }
  const want = layoutLines(tableLayout(spec, now, family));
  const firstDiff = want.findIndex((line, i) => have.layout[i] !== line);
  if (firstDiff === -1 && have.layout.length === want.length) return [];
  const i = firstDiff === -1 ? want.length : firstDiff;
  return [
    {
      op: "update",
      backend: "nat",
      key: `${key} layout`,
      before: JSON.stringify(have.layout[i] ?? "(end)"),
      after: JSON.stringify(want[i] ?? "(end)"),
    },
  ];
}

function setChanges(spec: NatSpec, current: NatCurrent, now: number): Change[] {
  const changes: Change[] = [];
  const want = setElements(spec, now);
  const have = current.sets ?? {};
  for (const key of [...new Set([...Object.keys(want), ...Object.keys(have)])].sort()) {
    // A set of a table that goes away, or is re-created anyway, needs no line of its own.
    if (want[key] === undefined) continue;
    const w = want[key] ?? [];
    const h = have[key] ?? [];
    for (const e of w.filter((x) => !h.includes(x)))
      changes.push({ op: "add", backend: "nat", key: `${key} ${e}` });
    for (const e of h.filter((x) => !w.includes(x)))
      changes.push({ op: "remove", backend: "nat", key: `${key} ${e}` });
  }
  return changes;
}

export function planNat(spec: NatSpec, current: NatCurrent, now: number): NatPlan {
  const changes: Change[] = [
    ...layoutChanges(spec, { exists: current.exists, layout: current.layout }, 4, now),
    ...layoutChanges(spec, current.ip6 ?? { exists: false, layout: [] }, 6, now),
  ];
  const have = new Map(current.forwards.map((f) => [forwardKey(f), f]));
  for (const f of spec.forwards) {
    const old = have.get(forwardKey(f));
    have.delete(forwardKey(f));
    // A grace entry about to end that nft already expired is not worth a new transaction.
    const ending = f.graceUntil !== undefined && f.graceUntil - now <= GRACE_TOLERANCE_MS;
    if (old === undefined && !ending) changes.push(forwardChange("add", f, now));
    else if (old === undefined) continue;
    else if (!sameForward(f, old)) changes.push(forwardChange("update", f, now, old));
  }
  for (const old of have.values()) changes.push(forwardChange("remove", old, now));
  if (current.exists) changes.push(...setChanges(spec, current, now));
  const nftChanged = changes.length > 0;
  const routing = planRouting(spec, current.routing ?? { rules: [], gateways: {} });
  changes.push(...routing.changes);
  return {
    backend: "nftables",
    table: spec.table,
    changes,
    script: nftChanged ? renderNftScript(spec, now) : null,
    ...(routing.commands.length > 0 ? { routing: routing.commands } : {}),
  };
}

/**
 * The nft plan from plain data: the `nat` settings, the node's desired
 * forwards and the tables read back (its backend's read()). Bad input fails
 * the same way whatever the backend, before anything is applied.
 */
export function planNatFor(
  nat: Pick<NatConfig, "backend" | "table">,
  desired: NodeDesired,
  current: NatCurrent,
  now: number,
): NatPlan {
  // Validates (the table name too) whatever the backend: bad input fails the same way.
  const spec = natSpec(desired, nat.table, now);
  if (nat.backend === "none") return { backend: "none", table: spec.table, changes: [], script: null };
  return planNat(spec, current, now);
}
