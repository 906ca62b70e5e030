import { InputError } from "../errors.ts";
import type { Change } from "./types.ts";

// PURE: octoDNS' `raise_if_unsafe`. A run that would rewrite or remove a
// large share of what we manage (a config that lost most of its VMs, a
// truncated Notes read) is far more likely a mistake than an intent, so it
// stops before applying anything and asks for --force.

export interface SafetyLimit {
  /** safety.maxChangePercent: the share of managed items one run may rewrite or remove. */
  maxChangePercent: number;
}

/**
 * Below this many managed items the threshold does not apply: moving one of
 * three forwards is a third of them and perfectly normal (octoDNS'
 * MIN_EXISTING_RECORDS is 10 as well).
 */
export const MIN_EXISTING_FOR_SAFETY = 10;

/** A plan over the safety threshold; exit code 1 (nothing was changed). */
export class UnsafePlan extends InputError {
  override name = "UnsafePlan";
}

/** A change to something a user manages: a forward, a route, a DNS name (not table layout or sets). */
export function isManagedItem(c: Change): boolean {
  if (c.backend === "dns") return true;
  if (c.backend === "proxy") return /^(sni|http) /.test(c.key);
  return /^(ip6 )?(tcp|udp)\/\d+$/.test(c.key);
}

/** How many managed items the changes rewrite or remove. */
export function riskyCount(changes: readonly Change[]): number {
  return changes.filter((c) => c.op !== "add" && isManagedItem(c)).length;
}

/**
 * Why the plan is unsafe (the UnsafePlan message), or undefined when
 * `changes` rewrite or remove at most the limit's share of `existing` managed items.
 */
export function safetyVerdict(
  changes: readonly Change[],
  existing: number,
  limit: SafetyLimit,
): string | undefined {
  if (existing < MIN_EXISTING_FOR_SAFETY) return undefined;
  const risky = riskyCount(changes);
  const percent = (risky / existing) * 100;
  if (percent <= limit.maxChangePercent) return undefined;
  const first = changes.find(isManagedItem);
  const where = first?.backend === "dns" ? "dns" : first?.node ? `node ${first.node}` : "plan";
  return `${where}: the plan rewrites or removes ${risky} of ${existing} managed ${first?.backend === "dns" ? "names" : "forwards and routes"} (${Math.round(percent)}%), more than safety.maxChangePercent (${limit.maxChangePercent}%); nothing was changed; run with --force to apply it`;
}

/** Throws UnsafePlan when `changes` rewrite or remove more than the limit's share of `existing` managed items. */
export function assertSafe(changes: readonly Change[], existing: number, limit: SafetyLimit): void {
  const unsafe = safetyVerdict(changes, existing, limit);
  if (unsafe !== undefined) throw new UnsafePlan(unsafe);
}
