import type { DnsMaster } from "../config/types.ts";
import { DnsAllMastersFailed, DnsRejected, masterLabel } from "./errors.ts";
import type { AttemptResult } from "./failover.ts";
import { answersOf, type FailoverLimits, type MasterSession, queryRequest } from "./masters.ts";
import { isOwned } from "./ownership.ts";
import type { NameRecords } from "./types.ts";
import { RCODE, rcodeName, TYPE } from "./wire/constants.ts";
import { type ParsedMessage, type RawRecord, readAddress, readTxt } from "./wire/response.ts";
import type { RecordTypeName } from "./wire/rr.ts";

// Reading names at the masters: a name's A, AAAA and TXT (three signed
// queries in parallel) at one master, or at the first candidate that
// answers. What a read returns is what the compare-and-swap writes are
// planned against, and what a read-back after an ambiguous update judges.

export interface NameReader {
  /** A/AAAA/TXT at one master, classified for the failover loop; ends by `deadline`. */
  readAt(master: DnsMaster, name: string, deadline: number): Promise<AttemptResult<NameRecords>>;
  /** At `master` (one attempt), or at the candidates in order (within `limits`). */
  read(name: string, master?: DnsMaster, limits?: FailoverLimits): Promise<NameRecords>;
}

export function createReader(session: MasterSession): NameReader {
  const { dns } = session;

  async function readAt(
    master: DnsMaster,
    name: string,
    deadline: number,
  ): Promise<AttemptResult<NameRecords>> {
    const types: RecordTypeName[] = ["A", "AAAA", "TXT"];
    const replies = await Promise.all(
      types.map((type) => session.attemptOnce(master, deadline, queryRequest(name, type))),
    );
    const messages: ParsedMessage[] = [];
    for (const r of replies) {
      if (r.kind === "next") return r;
      const msg = session.finalOrThrow(`query ${name}`, master, r.value);
      if (msg.rcode !== RCODE.NOERROR && msg.rcode !== RCODE.NXDOMAIN) {
        throw new DnsRejected(
          `query ${name}`,
          masterLabel(master),
          rcodeName(msg.rcode),
          "unexpected answer to a query",
        );
      }
      messages.push(msg);
    }
    const [aMsg, aaaaMsg, txtMsg] = messages as [ParsedMessage, ParsedMessage, ParsedMessage];
    const values = (msg: ParsedMessage, type: number, decode: (r: RawRecord) => string | undefined) =>
      answersOf(msg, name, type)
        .map(decode)
        .filter((v): v is string => v !== undefined)
        .sort();
    const txt = values(txtMsg, TYPE.TXT, readTxt);
    const ttls = [...answersOf(aMsg, name, TYPE.A), ...answersOf(aaaaMsg, name, TYPE.AAAA)].map((r) => r.ttl);
    return {
      kind: "final",
      value: {
        name,
        master: masterLabel(master),
        exists: messages.some((m) => m.rcode === RCODE.NOERROR),
        a: values(aMsg, TYPE.A, readAddress),
        aaaa: values(aaaaMsg, TYPE.AAAA, readAddress),
        txt,
        owned: isOwned(txt, dns.ownerId),
        ...(ttls.length > 0 ? { ttl: Math.max(...ttls) } : {}),
      },
    };
  }

  async function read(name: string, master?: DnsMaster, limits?: FailoverLimits): Promise<NameRecords> {
    const what = `read ${name}`;
    if (master) {
      const r = await readAt(master, name, Date.now() + dns.timeoutMs);
      if (r.kind === "next")
        throw new DnsAllMastersFailed(what, [{ master: masterLabel(master), reason: r.reason }]);
      return r.value;
    }
    return (await session.failover(what, (m, deadline) => readAt(m, name, deadline), limits)).value;
  }

  return { readAt, read };
}
