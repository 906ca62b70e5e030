// A seam for the fault matrix's "SIGKILL at every step of a switch": with
// PVEMIGRATE_DNS_CRASH_AFTER=N the process kills itself with SIGKILL right
// after its Nth durable state step (a journal item written or removed, a
// cluster lock taken), so a test can stop a real switch between any two of
// its journal entries, or while it holds a cluster lock, and check what the
// next run makes of the leftovers. A signal sent from outside could only land
// somewhere near a step; this lands exactly on it.
//
// The variable is read once and removed from the environment, so processes
// this one starts (`apply --local` on another node) never inherit it. Unset
// (every real run), a step costs one comparison.

import { warnOnStderr } from "./warn.ts";

export const CRASH_AFTER_ENV = "PVEMIGRATE_DNS_CRASH_AFTER";

let remaining: number | undefined | null = null;

function armed(): number | undefined {
  if (remaining === null) {
    const raw = process.env[CRASH_AFTER_ENV];
    delete process.env[CRASH_AFTER_ENV];
    const n = raw === undefined ? Number.NaN : Number(raw);
    remaining = Number.isInteger(n) && n > 0 ? n : undefined;
  }
  return remaining;
}

/** Marks one durable step done; the Nth one (PVEMIGRATE_DNS_CRASH_AFTER=N) is this process's last. */
export function crashPoint(step: string): void {
  const left = armed();
  if (left === undefined) return;
  remaining = left - 1;
  if (remaining > 0) return;
  // Said first (synchronously), so the test knows where the process died.
  warnOnStderr(`crash point: SIGKILL after ${step}`);
  process.kill(process.pid, "SIGKILL");
}
