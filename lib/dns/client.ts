import { randomInt } from "node:crypto";
import type { Secret } from "../config/secret.ts";
import type { DnsConfig, DnsMaster } from "../config/types.ts";
import {
  type Addresses,
  batchWrites,
  formForExpectation,
  type NameState,
  type NameWrite,
  normalizeAddresses,
  normalizeName,
  ownershipTxt,
  planAfterPrereqFailure,
  planFromState,
  sectionsFor,
} from "./changes.ts";
import { planClaim, planClaimAfterFailure } from "./claims.ts";
import { classifyReply, type FinalReply } from "./classify.ts";
import { DnsAllMastersFailed, DnsRejected, masterLabel } from "./errors.ts";
import { type Attempt, type AttemptResult, tryMasters } from "./failover.ts";
import { tsigKeyFrom } from "./key.ts";
import { isOwned } from "./ownership.ts";
import { exchange } from "./transport.ts";
import type {
  AddressChange,
  DeleteResult,
  NameIo,
  NameOutcome,
  NameRecords,
  SetResult,
  WithdrawResult,
} from "./types.ts";
import { OPCODE_QUERY, OPCODE_UPDATE, RCODE, rcodeName, TYPE } from "./wire/constants.ts";
import { type ParsedMessage, readAddress, readSoa, readTxt } from "./wire/response.ts";
import type { RecordTypeName } from "./wire/rr.ts";
import { signMessage, type TsigKey } from "./wire/tsig.ts";
import { encodeQuery, encodeUpdate, type Prerequisite, type UpdateOp } from "./wire/update.ts";
import { deleteName, PREREQ_FAILURES, withdrawName } from "./withdraw.ts";

export type {
  AddressChange,
  DeleteResult,
  NameOutcome,
  NameRecords,
  SetResult,
  WithdrawResult,
} from "./types.ts";

// The DNS engine the orchestrator and the CLI call: safe (owned,
// compare-and-swap) batched updates sent to the first master candidate that
// answers, and direct reads at a master.

export interface SoaRecord {
  zone: string;
  master: string;
  serial: number;
  mname: string;
  rname: string;
}

export interface DnsClient {
  setAddresses(changes: AddressChange[], opts?: { ttl?: number }): Promise<SetResult>;
  deleteName(name: string): Promise<DeleteResult>;
  /** Withdraws a guest's name nobody claims any more (see withdraw.ts). */
  withdrawName(name: string, vmid: number): Promise<WithdrawResult>;
  /** Reads A/AAAA/TXT at `master`, or at the first candidate that answers. */
  query(name: string, master?: DnsMaster): Promise<NameRecords>;
  querySoa(master?: DnsMaster): Promise<SoaRecord>;
}

export interface DnsClientOptions {
  dns: DnsConfig;
  tsigSecret: Secret;
  /** Appended to the all-masters-failed error, e.g. "recorded in the journal, retried by reconcile". */
  journalHint?: string;
  /** Wall clock in ms for TSIG times; tests skew it to provoke BADTIME. */
  clock?: () => number;
  /** Largest UPDATE message when batching names (bigger than 512 goes over TCP). */
  maxMessageBytes?: number;
}

/** How long a failed master stays at the end of the candidate order. */
const DEMOTION_MS = 60_000;

interface Sent {
  master: DnsMaster;
  message: ParsedMessage;
}

export function createDnsClient(opts: DnsClientOptions): DnsClient {
  const { dns } = opts;
  const key: TsigKey = tsigKeyFrom(dns.tsig, opts.tsigSecret);
  const clock = opts.clock ?? Date.now;
  const zone = dns.zone.toLowerCase().replace(/\.$/, "");
  const ownerTxt = ownershipTxt(dns.ownerId);
  const maxMessageBytes = opts.maxMessageBytes ?? 4096;

  // A master that just failed (timeout, refused, SERVFAIL) is tried last for
  // a while (DEMOTION_MS): a read and the update after it, or the names of
  // one hook run, should not each wait out the same silent candidate. The
  // configured order comes back once the demotion expires or it answers.
  const demotedUntil = new Map<string, number>();
  const isDemoted = (m: DnsMaster) => (demotedUntil.get(masterLabel(m)) ?? 0) > Date.now();
  const candidates = (): DnsMaster[] => [
    ...dns.masters.filter((m) => !isDemoted(m)),
    ...dns.masters.filter((m) => isDemoted(m)),
  ];
  function withDemotion<T>(attempt: Attempt<T>): Attempt<T> {
    return async (m, deadline) => {
      const r = await attempt(m, deadline);
      if (r.kind === "next") demotedUntil.set(masterLabel(m), Date.now() + DEMOTION_MS);
      else demotedUntil.delete(masterLabel(m));
      return r;
    };
  }
  const failover = <T>(what: string, attempt: Attempt<T>) =>
    tryMasters(candidates(), withDemotion(attempt), {
      what,
      timeoutMs: dns.timeoutMs,
      totalTimeoutMs: dns.totalTimeoutMs,
      ...(opts.journalHint ? { journalHint: opts.journalHint } : {}),
    });

  /** One signed exchange with one master, classified; ends by `deadline`. */
  async function attemptOnce(
    master: DnsMaster,
    deadline: number,
    build: (id: number) => Buffer,
    opcode: number,
  ): Promise<AttemptResult<FinalReply>> {
    const id = randomInt(0, 0x10000);
    const signed = signMessage(build(id), key, clock() / 1000);
    const result = await exchange(master, signed.message, { deadline });
    if (!result.ok) return { kind: "next", reason: result.detail };
    return classifyReply(result.reply, {
      id,
      opcode,
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

  /** Sends with failover across the candidates; throws DnsRejected or DnsAllMastersFailed. */
  async function send(what: string, build: (id: number) => Buffer, opcode: number): Promise<Sent> {
    const won = await failover(what, (m, deadline) => attemptOnce(m, deadline, build, opcode));
    return { master: won.master, message: finalOrThrow(what, won.master, won.value) };
  }

  function answersOf(msg: ParsedMessage, name: string, type: number): ParsedMessage["answers"] {
    return msg.answers.filter((r) => r.type === type && r.name.toLowerCase() === name);
  }

  /** A/AAAA/TXT of one name at one master (three signed queries in parallel). */
  async function readAt(
    master: DnsMaster,
    name: string,
    deadline: number,
  ): Promise<AttemptResult<NameRecords>> {
    const types: RecordTypeName[] = ["A", "AAAA", "TXT"];
    const replies = await Promise.all(
      types.map((type) => attemptOnce(master, deadline, (id) => encodeQuery(id, name, type), OPCODE_QUERY)),
    );
    const messages: ParsedMessage[] = [];
    for (const r of replies) {
      if (r.kind === "next") return r;
      const msg = finalOrThrow(`query ${name}`, master, r.value);
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
    const values = (
      msg: ParsedMessage,
      type: number,
      read: (r: ParsedMessage["answers"][number]) => string | undefined,
    ) =>
      answersOf(msg, name, type)
        .map(read)
        .filter((v): v is string => v !== undefined)
        .sort();
    const txt = values(txtMsg, TYPE.TXT, readTxt);
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
      },
    };
  }

  async function readName(name: string, master?: DnsMaster): Promise<NameRecords> {
    const what = `read ${name}`;
    if (master) {
      const r = await readAt(master, name, Date.now() + dns.timeoutMs);
      if (r.kind === "next")
        throw new DnsAllMastersFailed(what, [{ master: masterLabel(master), reason: r.reason }]);
      return r.value;
    }
    return (await failover(what, (m, deadline) => readAt(m, name, deadline))).value;
  }

  function encodeBatch(id: number, writes: NameWrite[], ttl: number): Buffer {
    const prerequisites: Prerequisite[] = [];
    const updates: UpdateOp[] = [];
    for (const w of writes) {
      const s = sectionsFor(w, ttl, ownerTxt);
      prerequisites.push(...s.prerequisites);
      updates.push(...s.updates);
    }
    return encodeUpdate({ id, zone, prerequisites, updates });
  }

  // The TSIG record signMessage will append: owner name, fixed fields, algorithm name, MAC.
  const tsigOverhead =
    signMessage(encodeQuery(0, zone, "SOA"), key, 0).message.length - encodeQuery(0, zone, "SOA").length;

  async function writeBatch(
    writes: NameWrite[],
    ttl: number,
    outcomes: NameOutcome[],
    accepted: Set<string>,
  ) {
    const what = `update ${writes.map((w) => w.name).join(", ")}`;
    const sent = await send(what, (id) => encodeBatch(id, writes, ttl), OPCODE_UPDATE);
    const master = masterLabel(sent.master);
    if (sent.message.rcode === RCODE.NOERROR) {
      accepted.add(master);
      for (const w of writes) outcomes.push({ name: w.name, status: "updated", master, ...w.desired });
      return;
    }
    if (!PREREQ_FAILURES.has(sent.message.rcode)) {
      throw new DnsRejected(what, master, rcodeName(sent.message.rcode), "unexpected answer to an update");
    }
    // Prerequisites hold or fail for the whole message: find out per name.
    if (writes.length > 1) {
      for (const w of writes) await writeBatch([w], ttl, outcomes, accepted);
      return;
    }
    await resolveFailure(writes[0] as NameWrite, ttl, sent.master, outcomes, accepted, false);
  }

  async function resolveFailure(
    write: NameWrite,
    ttl: number,
    master: DnsMaster,
    outcomes: NameOutcome[],
    accepted: Set<string>,
    retried: boolean,
  ) {
    // Read back where the prerequisite was evaluated (or the next candidate if it just went away).
    const state = await readName(write.name, master).catch(() => readName(write.name));
    const plan = write.claim
      ? planClaimAfterFailure(write, write.claim, state, retried, dns.ownerId)
      : planAfterPrereqFailure(write, state, retried);
    const label = state.master;
    switch (plan.kind) {
      case "refused":
        outcomes.push({
          name: write.name,
          status: "refused",
          master: label,
          reason: plan.reason,
          actual: pick(state),
        });
        return;
      case "unchanged":
        outcomes.push({ name: write.name, status: "unchanged", master: label, ...write.desired });
        return;
      case "not-owned":
        outcomes.push({ name: write.name, status: "not-owned", master: label, actual: pick(state) });
        return;
      case "stale": {
        const expected = write.form.kind === "replace" ? write.form.expect : { a: [], aaaa: [] };
        outcomes.push({
          name: write.name,
          status: "stale",
          master: label,
          expected: addr(expected),
          actual: addr(state),
        });
        return;
      }
      case "retry": {
        const what = `update ${write.name}`;
        const sent = await send(what, (id) => encodeBatch(id, [plan.write], ttl), OPCODE_UPDATE);
        if (sent.message.rcode === RCODE.NOERROR) {
          accepted.add(masterLabel(sent.master));
          outcomes.push({
            name: write.name,
            status: "updated",
            master: masterLabel(sent.master),
            ...write.desired,
          });
          return;
        }
        if (!PREREQ_FAILURES.has(sent.message.rcode)) {
          throw new DnsRejected(
            what,
            masterLabel(sent.master),
            rcodeName(sent.message.rcode),
            "unexpected answer",
          );
        }
        await resolveFailure(plan.write, ttl, sent.master, outcomes, accepted, true);
      }
    }
  }

  async function setAddresses(changes: AddressChange[], setOpts: { ttl?: number } = {}): Promise<SetResult> {
    const ttl = setOpts.ttl ?? dns.ttl;
    // Validate everything before anything is sent: bad input changes nothing.
    const normalized = changes.map((c, i) => ({
      claim: c.claim,
      name: normalizeName(c.name, zone, `changes[${i}].name`),
      desired: normalizeAddresses([...c.a, ...c.aaaa], `changes[${i}].addresses`),
      expect: c.expect
        ? normalizeAddresses([...c.expect.a, ...c.expect.aaaa], `changes[${i}].expect`)
        : undefined,
    }));
    const outcomes: NameOutcome[] = [];
    const accepted = new Set<string>();
    const writes: NameWrite[] = [];
    for (const c of normalized) {
      if (c.expect && !c.claim) {
        writes.push({ name: c.name, desired: c.desired, form: formForExpectation(c.expect, ownerTxt) });
        continue;
      }
      const state = await readName(c.name);
      const plan = c.claim
        ? planClaim(c.name, c.desired, state, c.claim, dns.ownerId)
        : planFromState(c.name, c.desired, state);
      const master = state.master;
      if (plan.kind === "write") writes.push(plan.write);
      else if (plan.kind === "unchanged")
        outcomes.push({ name: c.name, status: "unchanged", master, ...c.desired });
      else if (plan.kind === "refused")
        outcomes.push({ name: c.name, status: "refused", master, reason: plan.reason, actual: pick(state) });
      else outcomes.push({ name: c.name, status: "not-owned", master, actual: pick(state) });
    }
    const size = (batch: NameWrite[]) => encodeBatch(0, batch, ttl).length + tsigOverhead;
    try {
      for (const batch of batchWrites(writes, size, maxMessageBytes))
        await writeBatch(batch, ttl, outcomes, accepted);
    } catch (err) {
      // Earlier messages may have landed: say which names are settled, so only the rest is journaled.
      if (err instanceof DnsAllMastersFailed || err instanceof DnsRejected) err.completed = [...outcomes];
      throw err;
    }
    const order = new Map(normalized.map((c, i) => [c.name, i]));
    outcomes.sort((x, y) => (order.get(x.name) ?? 0) - (order.get(y.name) ?? 0));
    return { outcomes, acceptedBy: [...accepted] };
  }

  const io: NameIo = {
    zone,
    ownerId: dns.ownerId,
    read: readName,
    async update(what, sections) {
      const sent = await send(what, (id) => encodeUpdate({ id, zone, ...sections }), OPCODE_UPDATE);
      return { master: sent.master, rcode: sent.message.rcode };
    },
  };

  async function querySoa(master?: DnsMaster): Promise<SoaRecord> {
    const what = `read SOA of ${zone}`;
    const attempt = async (m: DnsMaster, deadline: number): Promise<AttemptResult<SoaRecord>> => {
      const r = await attemptOnce(m, deadline, (id) => encodeQuery(id, zone, "SOA"), OPCODE_QUERY);
      if (r.kind === "next") return r;
      const msg = finalOrThrow(what, m, r.value);
      const record = answersOf(msg, zone, TYPE.SOA)[0];
      const soa = record ? readSoa(msg, record) : undefined;
      if (!soa) throw new DnsRejected(what, masterLabel(m), rcodeName(msg.rcode), "no SOA in the answer");
      return {
        kind: "final",
        value: { zone, master: masterLabel(m), serial: soa.serial, mname: soa.mname, rname: soa.rname },
      };
    };
    if (master) {
      const r = await attempt(master, Date.now() + dns.timeoutMs);
      if (r.kind === "next")
        throw new DnsAllMastersFailed(what, [{ master: masterLabel(master), reason: r.reason }]);
      return r.value;
    }
    return (await failover(what, attempt)).value;
  }

  return {
    setAddresses,
    deleteName: (name) => deleteName(io, name),
    withdrawName: (name, vmid) => withdrawName(io, name, vmid),
    query: (name, master) => readName(normalizeName(name, zone, "name"), master),
    querySoa,
  };
}

function addr(x: Addresses): Addresses {
  return { a: [...x.a], aaaa: [...x.aaaa] };
}

function pick(s: NameState): Addresses & { txt: string[] } {
  return { a: s.a, aaaa: s.aaaa, txt: s.txt };
}
