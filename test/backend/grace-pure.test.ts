import { describe, expect, it } from "vitest";
import { chooseLiveOverGrace, graceEnd } from "../../lib/backend/grace.ts";
import { InputError } from "../../lib/errors.ts";

// The grace rules nft forwards and proxy routes share (lib/backend/grace.ts).
type E = { vm: number; graceUntil?: number };
const live = (vm: number): E => ({ vm });
const grace = (vm: number): E => ({ vm, graceUntil: 2_000 });

function choose(entries: E[]): E | undefined {
  const chosen = new Map<string, E>();
  for (const e of entries) chooseLiveOverGrace(chosen, "k", e, (o) => `k twice (vm ${o.vm} and vm ${e.vm})`);
  return chosen.get("k");
}

describe("live beats grace", () => {
  it("a live entry replaces the grace entry of a VM that left, whichever comes first", () => {
    expect(choose([grace(1), live(2)])).toEqual(live(2));
    expect(choose([live(2), grace(1)])).toEqual(live(2));
  });

  it("two live or two grace entries for one key are a conflict naming both VMs", () => {
    expect(() => choose([live(1), live(2)])).toThrow(new InputError("k twice (vm 1 and vm 2)"));
    expect(() => choose([grace(1), grace(2)])).toThrow(InputError);
  });

  it("grace ends at graceUntil; a live entry has none; a non-number is refused", () => {
    expect(graceEnd("f", undefined, 1_000)).toBeUndefined();
    expect(graceEnd("f", 1_001, 1_000)).toBe(1_001);
    expect(graceEnd("f", 1_000, 1_000)).toBe("ended");
    expect(() => graceEnd("f", Number.NaN, 1_000)).toThrow("f.graceUntil: must be epoch milliseconds");
  });
});
