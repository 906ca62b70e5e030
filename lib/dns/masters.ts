import { randomInt } from "node:crypto";
import type { DnsConfig, DnsMaster } from "../config/types.ts";
import { classifyReply, type FinalReply } from "./classify.ts";
import { DnsAllMastersFailed, DnsRejected, masterLabel } from "./errors.ts";
import { type Attempt, type AttemptResult, type FailoverSuccess, tryMasters } from "./failover.ts";
import { candidateOrder, primaryCandidate } from "./primary.ts";
import { exchange } from "./transport.ts";
import { CLASS_IN, OPCODE_QUERY, OPCODE_UPDATE, RCODE, rcodeName, TYPE } from "./wire/constants.ts";
import { type ParsedMessage, readAddress, readSoa } from "./wire/response.ts";
import type { RecordTypeName } from "./wire/rr.ts";
import { signMessage, type TsigKey } from "./wire/tsig.ts";
import { encodeQuery } from "./wire/update.ts";

// Which master to talk to, and one signed exchange with it. Candidates are
// tried primary first (learned once from the SOA MNAME, RFC 2136 section 4),
// then in the configured order, with a candidate that just failed moved to
// the end for a while; every exchange is signed and its reply verified and
// classified (classify.ts) for the failover loop (failover.ts).

export interface SoaRecord {
  zone: string;
  master: string;
  serial: number;
  mname: string;
  rname: string;
}

/** One request: how to build it for a message id, and what a reply must echo. */
export interface Request {
  opcode: number;
  question: { name: string; type: number };
  build(id: number): Buffer;
}

export const queryRequest = (name: string, type: RecordTypeName): Request => ({
  opcode: OPCODE_QUERY,
  question: { name, type: TYPE[type] },
  build: (id) => encodeQuery(id, name, type),
});

export const updateRequest = (zone: string, build: (id: number) => Buffer): Request => ({
  opcode: OPCODE_UPDATE,
  question: { name: zone, type: TYPE.SOA },
  build,
});

export interface MasterSession {
  dns: DnsConfig;
  zone: string;
  key: TsigKey;
  /** Runs `attempt` at the candidates, primary first; throws DnsAllMastersFailed. */
  failover<T>(what: string, attempt: Attempt<T>, limits?: FailoverLimits): Promise<FailoverSuccess<T>>;
  /** One signed exchange with one master, classified; ends by `deadline`. */
  attemptOnce(master: DnsMaster, deadline: number, request: Request): Promise<AttemptResult<FinalReply>>;
  /** The verified message of a final reply; DnsRejected for a refusal. */
  finalOrThrow(what: string, master: DnsMaster, reply: FinalReply): ParsedMessage;
  /** The zone's SOA at `master`, or at the first candidate that answers. */
  querySoa(master?: DnsMaster): Promise<SoaRecord>;
  /** The candidate learned to be the primary (after the first failover), if any. */
  primary(): DnsMaster | undefined;
  /** Moves `master` to the end of the order for a while (it just failed). */
  demote(master: DnsMaster): void;
}

export interface FailoverLimits {
  /** At most this long (default and cap: dns.totalTimeoutMs). */
  budgetMs?: number;
  /** Leave this candidate out (unless it is the only one). */
  except?: DnsMaster;
}

/** How long a failed master stays at the end of the candidate order. */
const DEMOTION_MS = 60_000;

export function answersOf(msg: ParsedMessage, name: string, type: number): ParsedMessage["answers"] {
  return msg.answers.filter((r) => r.type === type && r.name.toLowerCase() === name);
}

export function createMasterSession(opts: {
  dns: DnsConfig;
  key: TsigKey;
  clock: () => number;
  journalHint?: string;
}): MasterSession {
  const { dns, key, clock } = opts;
  const zone = dns.zone.toLowerCase().replace(/\.$/, "");

  // A master that just failed (timeout, refused, SERVFAIL) is tried last for
  // a while (DEMOTION_MS): a read and the update after it, or the names of
  // one hook run, should not each wait out the same silent candidate. The
  // configured order comes back once the demotion expires or it answers.
  const demotedUntil = new Map<string, number>();
  const isDemoted = (m: DnsMaster) => (demotedUntil.get(masterLabel(m)) ?? 0) > Date.now();
  let primary: DnsMaster | undefined;
  let learning: Promise<void> | undefined;

  const demote = (m: DnsMaster) => demotedUntil.set(masterLabel(m), Date.now() + DEMOTION_MS);
  function withDemotion<T>(attempt: Attempt<T>): Attempt<T> {
    return async (m, deadline, end) => {
      const r = await attempt(m, deadline, end);
      if (r.kind === "next") demote(m);
      else demotedUntil.delete(masterLabel(m));
      return r;
    };
  }
  const rawFailover = <T>(what: string, attempt: Attempt<T>, limits: FailoverLimits = {}) => {
    const order = candidateOrder(dns.masters, primary, isDemoted);
    const others = order.filter((m) => m !== limits.except);
    return tryMasters(others.length > 0 ? others : order, withDemotion(attempt), {
      what,
      timeoutMs: dns.timeoutMs,
      totalTimeoutMs: Math.max(1, Math.min(limits.budgetMs ?? dns.totalTimeoutMs, dns.totalTimeoutMs)),
      ...(opts.journalHint ? { journalHint: opts.journalHint } : {}),
    });
  };

  async function attemptOnce(
    master: DnsMaster,
    deadline: number,
    request: Request,
  ): Promise<AttemptResult<FinalReply>> {
    const id = randomInt(0, 0x10000);
    const signed = signMessage(request.build(id), key, clock() / 1000);
    const result = await exchange(master, signed.message, { deadline });
    if (!result.ok) {
      const ambiguous = request.opcode === OPCODE_UPDATE && result.sent && result.kind !== "refused";
      return { kind: "next", reason: result.detail, ...(ambiguous ? { ambiguous } : {}) };
    }
    return classifyReply(result.reply, {
      id,
      opcode: request.opcode,
      question: { ...request.question, klass: CLASS_IN },
      key,
      requestMac: signed.mac,
      nowSeconds: clock() / 1000,
    });
  }

  function finalOrThrow(what: string, master: DnsMaster, reply: FinalReply): ParsedMessage {
    if (reply.kind === "rejected")
      throw new DnsRejected(what, masterLabel(master), reply.rcode, reply.detail);
    return reply.message;
  }

  /** A query at one master whose NOERROR/NXDOMAIN answer is final. */
  async function askAt(
    what: string,
    m: DnsMaster,
    deadline: number,
    name: string,
    type: RecordTypeName,
  ): Promise<AttemptResult<ParsedMessage>> {
    const r = await attemptOnce(m, deadline, queryRequest(name, type));
    if (r.kind === "next") return r;
    return { kind: "final", value: finalOrThrow(what, m, r.value) };
  }

  const soaAttempt =
    (what: string): Attempt<SoaRecord> =>
    async (m, deadline) => {
      const r = await askAt(what, m, deadline, zone, "SOA");
      if (r.kind === "next") return r;
      const msg = r.value;
      const record = answersOf(msg, zone, TYPE.SOA)[0];
      const soa = record ? readSoa(msg, record) : undefined;
      if (!soa) throw new DnsRejected(what, masterLabel(m), rcodeName(msg.rcode), "no SOA in the answer");
      return {
        kind: "final",
        value: { zone, master: masterLabel(m), serial: soa.serial, mname: soa.mname, rname: soa.rname },
      };
    };

  /** Learns the primary once: the SOA MNAME, and its addresses as the same master answers them. */
  async function learnPrimary(): Promise<void> {
    if (dns.masters.length < 2) return;
    try {
      const soa = await rawFailover(`read SOA of ${zone}`, soaAttempt(`read SOA of ${zone}`));
      const mname = soa.value.mname.toLowerCase().replace(/\.$/, "");
      const addresses: string[] = [];
      if (primaryCandidate(mname, [], dns.masters) === undefined) {
        for (const type of ["A", "AAAA"] as const) {
          const r = await askAt(`read ${mname}`, soa.master, Date.now() + dns.timeoutMs, mname, type);
          if (r.kind === "final" && r.value.rcode === RCODE.NOERROR)
            for (const rec of answersOf(r.value, mname, TYPE[type])) {
              const a = readAddress(rec);
              if (a) addresses.push(a);
            }
        }
      }
      primary = primaryCandidate(mname, addresses, dns.masters);
    } catch {
      // No SOA (all down, refused): the configured order stands; the operation itself reports why.
    }
  }

  async function querySoa(master?: DnsMaster): Promise<SoaRecord> {
    const what = `read SOA of ${zone}`;
    if (master) {
      const r = await soaAttempt(what)(master, Date.now() + dns.timeoutMs, Date.now() + dns.timeoutMs);
      if (r.kind === "next")
        throw new DnsAllMastersFailed(what, [{ master: masterLabel(master), reason: r.reason }]);
      return r.value;
    }
    return (await session.failover(what, soaAttempt(what))).value;
  }

  const session: MasterSession = {
    dns,
    zone,
    key,
    async failover(what, attempt, limits) {
      learning ??= learnPrimary();
      await learning;
      return rawFailover(what, attempt, limits);
    },
    attemptOnce,
    finalOrThrow,
    querySoa,
    primary: () => primary,
    demote,
  };
  return session;
}
