import { InputError } from "../errors.ts";

// PURE: the grace rules both node backends (nft forwards, proxy routes) apply
// to the desired state, in one place: an entry whose grace has ended is
// dropped, and for one key a VM that lives here now beats the grace entry of
// one that left, while two live (or two grace) entries are a conflict; and
// how a plan line marks a grace entry.

/**
 * The entry's grace end, checked: undefined for a live entry, "ended" when the
 * grace is over at `now` (the old node lets go).
 */
export function graceEnd(
  field: string,
  graceUntil: number | undefined,
  now: number,
): number | "ended" | undefined {
  if (graceUntil === undefined) return undefined;
  if (!Number.isFinite(graceUntil)) throw new InputError(`${field}.graceUntil: must be epoch milliseconds`);
  return graceUntil <= now ? "ended" : graceUntil;
}

/** How a plan line says an entry is grace: " [grace, 30s left]"; "" for a live entry. */
export function graceNote(graceUntil: number | undefined, now: number): string {
  if (graceUntil === undefined) return "";
  return ` [grace, ${Math.max(0, Math.round((graceUntil - now) / 1000))}s left]`;
}

/**
 * Puts `entry` under `key` unless the key is taken: a live entry replaces a
 * grace one, a grace entry yields to a live one, and two of the same kind
 * throw the message `conflict(other)` names.
 */
export function chooseLiveOverGrace<T extends { graceUntil?: number }>(
  chosen: Map<string, T>,
  key: string,
  entry: T,
  conflict: (other: T) => string,
): void {
  const other = chosen.get(key);
  if (other === undefined) chosen.set(key, entry);
  else if ((other.graceUntil === undefined) === (entry.graceUntil === undefined))
    throw new InputError(conflict(other));
  else if (entry.graceUntil === undefined) chosen.set(key, entry);
}
