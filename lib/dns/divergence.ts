import { type Addresses, sameAddresses } from "./changes.ts";

// PURE: do the master candidates agree with each other? Two candidates
// whose zone serials differ, or that answer a name differently, mean a
// secondary lags behind NOTIFY or a write landed on one side only (two
// primaries that do not replicate). Reported by `dns show`, `doctor`,
// `status`; never decided on.

export interface MasterSample {
  master: string;
  serial?: number;
  /** The name's addresses there, when a name was read. */
  answer?: Addresses;
}

export function divergence(samples: readonly MasterSample[]): string[] {
  const out: string[] = [];
  const serials = samples.filter((s) => s.serial !== undefined);
  if (new Set(serials.map((s) => s.serial)).size > 1)
    out.push(
      `masters disagree on the zone serial: ${serials.map((s) => `${s.serial} at ${s.master}`).join(", ")}`,
    );
  const answers = samples.filter((s): s is MasterSample & { answer: Addresses } => s.answer !== undefined);
  const first = answers[0];
  if (first && answers.some((s) => !sameAddresses(s.answer, first.answer))) {
    const show = (a: Addresses) => [...a.a, ...a.aaaa].join(",") || "(nothing)";
    out.push(
      `masters answer differently: ${answers.map((s) => `${show(s.answer)} at ${s.master}`).join(", ")}`,
    );
  }
  return out;
}
