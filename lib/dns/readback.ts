import { type Addresses, type NameState, type NameWrite, sameAddresses, ttlDiffers } from "./changes.ts";

// PURE: what a read-back says about an UPDATE whose outcome is unknown (sent,
// then a timeout, a lost connection, a truncated or untrustworthy reply).
// Every UPDATE we send is a compare-and-swap, so both ends are known: the
// state its prerequisites demanded (not applied) and the state its updates
// produce (applied). Anything else means someone else changed the name
// meanwhile: unknown, and only a later read can settle it.

export type ReadBack = "applied" | "not-applied" | "unknown";

/** The names to read back after an ambiguous UPDATE, and how to judge what they hold. */
export interface UpdateCheck {
  names: string[];
  judge(states: ReadonlyMap<string, NameState>): ReadBack;
}

function sameSet(x: readonly string[], y: readonly string[]): boolean {
  const sx = [...new Set(x)].sort();
  const sy = [...new Set(y)].sort();
  return sx.length === sy.length && sx.every((v, i) => v === sy[i]);
}

const NONE: Addresses = { a: [], aaaa: [] };

/** One message is atomic: applied only if every name shows it, not applied only if none does. */
function overall(verdicts: ReadBack[]): ReadBack {
  if (verdicts.every((v) => v === "applied")) return "applied";
  if (verdicts.every((v) => v === "not-applied")) return "not-applied";
  return "unknown";
}

/** The TXT set a write leaves at the name (see sectionsFor). */
export function txtAfter(write: NameWrite, ownerTxt: string): string[] {
  const { form } = write;
  if (form.kind === "create") return [form.label ?? ownerTxt];
  const removed = new Set(form.relabel?.remove ?? []);
  const kept = form.txt.filter((t) => !removed.has(t));
  return form.relabel?.add ? [...kept, form.relabel.add] : kept;
}

export function judgeWrite(write: NameWrite, state: NameState, ownerTxt: string): ReadBack {
  // A write that only changes the TTL leaves the same values: only the TTL tells it landed.
  const after = sameAddresses(state, write.desired) && sameSet(state.txt, txtAfter(write, ownerTxt));
  if (after && !ttlDiffers(state, write.ttl)) return "applied";
  const { form } = write;
  if (form.kind === "create") return state.exists ? "unknown" : "not-applied";
  return sameAddresses(state, form.expect) && sameSet(state.txt, form.txt) ? "not-applied" : "unknown";
}

/** For a message carrying `writes` (a batch of names, all or nothing). */
export function writeCheck(writes: readonly NameWrite[], ownerTxt: string): UpdateCheck {
  return {
    names: writes.map((w) => w.name),
    judge: (states) =>
      overall(
        writes.map((w) => {
          const s = states.get(w.name);
          return s ? judgeWrite(w, s, ownerTxt) : "unknown";
        }),
      ),
  };
}

/** For deleteSectionsFor(name, txt): the whole name goes while its TXT set is `txt`. */
export function deleteCheck(name: string, txt: readonly string[]): UpdateCheck {
  return {
    names: [name],
    judge: (states) => {
      const s = states.get(name);
      if (!s) return "unknown";
      if (sameAddresses(s, NONE) && s.txt.length === 0) return "applied";
      return sameSet(s.txt, txt) ? "not-applied" : "unknown";
    },
  };
}

/** For withdrawSectionsFor(name, seen, ours): A/AAAA and our TXT go while the name holds `seen`. */
export function withdrawCheck(
  name: string,
  seen: Addresses & { txt: readonly string[] },
  ours: readonly string[],
): UpdateCheck {
  return {
    names: [name],
    judge: (states) => {
      const s = states.get(name);
      if (!s) return "unknown";
      if (sameAddresses(s, NONE) && !s.txt.some((t) => ours.includes(t))) return "applied";
      return sameAddresses(s, seen) && sameSet(s.txt, seen.txt) ? "not-applied" : "unknown";
    },
  };
}
