import type { NatCurrent } from "./parse.ts";
import { layoutLines, renderNftScript, tableLayout } from "./render.ts";
import { forwardKey, type NatForward, type NatSpec } from "./spec.ts";
import type { BackendPlan } from "./types.ts";

// PURE: desired spec vs. read-back table -> the printable changes and, when
// there are any, the script that replaces the table.

export interface NatPlan extends BackendPlan {
  backend: "nftables" | "none";
  table: string;
  /** The `nft -f -` transaction; null when nothing changes. */
  script: string | null;
}

/**
 * nft -j reports a grace element's remaining time in whole seconds, and the
 * clock runs between reading and planning: end times closer than this are equal.
 */
export const GRACE_TOLERANCE_MS = 3000;

export function describeForward(f: NatForward, now: number): string {
  const vm = f.vmid === undefined ? "" : ` (vm ${f.vmid})`;
  const grace =
    f.graceUntil === undefined
      ? ""
      : ` [grace, ${Math.max(0, Math.round((f.graceUntil - now) / 1000))}s left]`;
  return `${f.proto}/${f.publicPort} -> ${f.target}:${f.targetPort}${vm}${grace}`;
}

function sameForward(a: NatForward, b: NatForward): boolean {
  if (a.target !== b.target || a.targetPort !== b.targetPort) return false;
  if (a.graceUntil === undefined || b.graceUntil === undefined) return a.graceUntil === b.graceUntil;
  return Math.abs(a.graceUntil - b.graceUntil) <= GRACE_TOLERANCE_MS;
}

export function planNat(spec: NatSpec, current: NatCurrent, now: number): NatPlan {
  const changes: string[] = [];
  if (!current.exists) {
    changes.push(`+ table ip ${spec.table} (masquerade ${spec.vmNetwork} on ${spec.publicInterface})`);
  } else {
    const want = layoutLines(tableLayout(spec, now));
    const have = current.layout;
    const firstDiff = want.findIndex((line, i) => have[i] !== line);
    if (firstDiff !== -1 || have.length !== want.length) {
      const i = firstDiff === -1 ? want.length : firstDiff;
      changes.push(
        `~ table ip ${spec.table} layout: want ${JSON.stringify(want[i] ?? "(end)")}, found ${JSON.stringify(have[i] ?? "(end)")}`,
      );
    }
  }
  const have = new Map(current.forwards.map((f) => [forwardKey(f), f]));
  for (const f of spec.forwards) {
    const old = have.get(forwardKey(f));
    have.delete(forwardKey(f));
    // A grace entry about to end that nft already expired is not worth a new transaction.
    const ending = f.graceUntil !== undefined && f.graceUntil - now <= GRACE_TOLERANCE_MS;
    if (old === undefined && !ending) changes.push(`+ ${describeForward(f, now)}`);
    else if (old === undefined) continue;
    else if (!sameForward(f, old))
      changes.push(`~ ${describeForward(f, now)} (was ${describeForward(old, now)})`);
  }
  for (const old of have.values()) changes.push(`- ${describeForward(old, now)}`);
  return {
    backend: "nftables",
    table: spec.table,
    changes,
    script: changes.length === 0 ? null : renderNftScript(spec, now),
  };
}
