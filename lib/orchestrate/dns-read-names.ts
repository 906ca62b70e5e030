import { DnsAllMastersFailed } from "../dns/errors.ts";
import type { SoaRecord } from "../dns/masters.ts";
import { isOwned } from "../dns/ownership.ts";
import { keyLabel, namesToRead, nextRecord, type SerialNow } from "../dns/read-reuse.ts";
import { messageOf } from "../errors.ts";
import { warnVia } from "../log/logger.ts";
import type { NameRead } from "../plan/dns.ts";
import { ZoneReadStore } from "../state/zone-reads.ts";
import type { Runtime } from "./runtime.ts";

// Reading the planned names at the masters. A read of 10,000 names is 30,000
// signed queries, most of a steady reconcile's time; so, with `reuse`, the
// zone's SOA serial is read first, and while it is the one read before the
// last run's reads (same master and TSIG key, within dns.fullReadMinutes) the
// names that run read take its answers (lib/dns/read-reuse.ts decides,
// purely); the others are read. Every failure of this shortcut falls back to
// reading all.

/** How many names are read at the master at once: one round trip each, DNS_READ_CONCURRENCY in flight. */
export const DNS_READ_CONCURRENCY = 64;

const DEFAULT_FULL_READ_MINUTES = 10;

/** The names as read (or as the last run read them, the serial unchanged), in the order asked. */
export async function readPlannedNames(
  rt: Runtime,
  names: readonly string[],
  reuse: boolean,
): Promise<Map<string, NameRead>> {
  if (!reuse || names.length === 0) return readNames(rt, names);
  const warn = warnVia(rt.log);
  const store = new ZoneReadStore(rt.config.stateDir, warn);
  // The serial BEFORE the names: a change between the reads and a later serial read would be missed.
  const soa = await serialNow(rt);
  const record = await store.read();
  const fullReadMs = (rt.config.dns.fullReadMinutes ?? DEFAULT_FULL_READ_MINUTES) * 60_000;
  const now = rt.now();
  const verdict = namesToRead(names, record, soa, now, fullReadMs);
  const fresh = await readNames(rt, verdict.toRead);
  const next = nextRecord(soa, verdict, fresh, now, record);
  if (next && (!verdict.reuse || fresh.size > 0)) {
    await store.write(next).catch((err: unknown) => warn(`dns reads not recorded: ${messageOf(err)}`));
  }
  if (!verdict.reuse) return fresh;
  const out = new Map<string, NameRead>();
  for (const name of names) {
    const known = verdict.answers.get(name);
    // Ownership is judged again on the recorded TXT: dns.ownerId may have changed since that read.
    const read =
      known && soa
        ? { ...known, owned: isOwned(known.txt, rt.config.dns.ownerId), master: soa.master }
        : fresh.get(name);
    if (read) out.set(name, read);
  }
  return out;
}

/** The zone's serial where the names would be read, or undefined (then everything is read). */
async function serialNow(rt: Runtime): Promise<SerialNow | undefined> {
  try {
    const soa: SoaRecord = await rt.dns.querySoa();
    // rt.dns signs with config.dns.tsig (runtime.ts): the key its reads are made with.
    return { zone: soa.zone, master: soa.master, key: keyLabel(rt.config.dns.tsig), serial: soa.serial };
  } catch (err) {
    // Every master down: the name reads would wait out the same failover again, and fail the same way.
    if (err instanceof DnsAllMastersFailed) throw err;
    // Refused, no SOA in the answer: only the shortcut is lost.
    return undefined;
  }
}

/** Each name read once at the masters, many in flight (a sequential read was one round trip per name). */
export async function readNames(rt: Runtime, names: readonly string[]): Promise<Map<string, NameRead>> {
  const out = new Map<string, NameRead>();
  let next = 0;
  let failed = false;
  const worker = async () => {
    // After one read failed (the masters down) the plan fails: no more reads are started.
    while (next < names.length && !failed) {
      const name = names[next++]!;
      try {
        out.set(name, await rt.dns.query(name));
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(DNS_READ_CONCURRENCY, names.length) }, worker));
  // In the order asked (planDns lists changes in the desired state's order anyway).
  return new Map(names.flatMap((n) => (out.has(n) ? [[n, out.get(n)!] as const] : [])));
}
