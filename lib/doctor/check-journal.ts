import { messageOf } from "../errors.ts";
import type { Journal, JournalItem } from "../state/index.ts";
import { type Finding, ok, warn } from "./types.ts";

// Pending work is normal for a moment (a master down during a switch);
// pending for long means reconcile cannot finish it, or does not run.

export const STALE_PENDING_MS = 10 * 60_000;

/** Pure: the items pending for longer than `maxAgeMs` at `now`. */
export function stalePending(items: readonly JournalItem[], now: number, maxAgeMs = STALE_PENDING_MS) {
  return items.filter((i) => now - Date.parse(i.createdAt) > maxAgeMs);
}

export async function checkJournal(
  journals: ReadonlyArray<{ label: string; journal: Journal }>,
  now: number,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  let total = 0;
  for (const { label, journal } of journals) {
    let items: JournalItem[];
    try {
      items = await journal.list();
    } catch (err) {
      findings.push(
        warn(
          "journal",
          `${label} journal ${journal.dir}: ${messageOf(err)}`,
          "check the directory's permissions",
        ),
      );
      continue;
    }
    total += items.length;
    for (const item of stalePending(items, now)) {
      const minutes = Math.floor((now - Date.parse(item.createdAt)) / 60_000);
      findings.push(
        warn(
          "journal",
          `${label} journal: ${item.id} pending for ${minutes} min, ${item.attempts} failed attempt(s)${item.lastError ? `, last error: ${item.lastError}` : ""}`,
          "fix what the last error names, then `pvemigrate-dns reconcile`; is the reconcile timer running (systemctl status pvemigrate-dns-reconcile.timer)?",
        ),
      );
    }
  }
  if (findings.length === 0)
    findings.push(
      ok("journal", `${total} pending item(s), none older than ${STALE_PENDING_MS / 60_000} min`),
    );
  return findings;
}
