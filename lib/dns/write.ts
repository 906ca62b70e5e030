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
import { DnsAllMastersFailed, DnsRejected, masterLabel } from "./errors.ts";
import type { MasterSession } from "./masters.ts";
import type { NameReader } from "./read.ts";
import { writeCheck } from "./readback.ts";
import type { AddressChange, NameOutcome, SetResult } from "./types.ts";
import type { UpdateSender } from "./update-send.ts";
import { RCODE, rcodeName } from "./wire/constants.ts";
import { signMessage } from "./wire/tsig.ts";
import { encodeQuery, encodeUpdate, type Prerequisite, type UpdateOp } from "./wire/update.ts";
import { PREREQ_FAILURES } from "./withdraw.ts";

// Writing names: safe (owned, compare-and-swap) updates, batched into as few
// messages as fit, each sent with failover (update-send.ts reads back an
// update whose outcome is unknown). A failed prerequisite is settled per name
// by reading it back where it was evaluated.

export interface NameWriter {
  /** Reads each name, plans its write (compare-and-swap on what was read), sends. */
  setAddresses(changes: AddressChange[], opts?: { ttl?: number }): Promise<SetResult>;
  /**
   * Sends writes planned elsewhere (lib/plan/dns.ts) as they are, never
   * planning again: a failed prerequisite is read back only to tell a write
   * that already landed ("unchanged") from one the name moved under ("stale").
   */
  applyWrites(writes: readonly NameWrite[]): Promise<SetResult>;
}

export function createWriter(
  session: MasterSession,
  reader: NameReader,
  sender: UpdateSender,
  maxMessageBytes: number,
): NameWriter {
  const { dns, zone, key } = session;
  const ownerTxt = ownershipTxt(dns.ownerId);

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

  /** Sends one batch; NOERROR -> updated (confirmed by read-back when the reply was lost). */
  async function sendBatch(writes: NameWrite[], ttl: number, outcomes: NameOutcome[], accepted: Set<string>) {
    const what = `update ${writes.map((w) => w.name).join(", ")}`;
    const sent = await sender.send(what, (id) => encodeBatch(id, writes, ttl), writeCheck(writes, ownerTxt));
    const master = masterLabel(sent.master);
    if (sent.rcode === RCODE.NOERROR) {
      accepted.add(master);
      for (const w of writes)
        outcomes.push({
          name: w.name,
          status: "updated",
          master,
          ...w.desired,
          ...(sent.readBack ? { readBack: sent.readBack } : {}),
        });
      return undefined;
    }
    if (!PREREQ_FAILURES.has(sent.rcode))
      throw new DnsRejected(what, master, rcodeName(sent.rcode), "unexpected answer to an update");
    return sent.master;
  }

  /** `replan`: a failed prerequisite may be retried once against what is there (setAddresses only). */
  async function writeBatch(
    writes: NameWrite[],
    ttl: number,
    outcomes: NameOutcome[],
    accepted: Set<string>,
    replan: boolean,
  ) {
    const failedAt = await sendBatch(writes, ttl, outcomes, accepted);
    if (failedAt === undefined) return;
    // Prerequisites hold or fail for the whole message: find out per name.
    if (writes.length > 1) {
      for (const w of writes) await writeBatch([w], ttl, outcomes, accepted, replan);
      return;
    }
    // A write that may not be re-planned is settled as if it had been retried already.
    await resolveFailure(writes[0] as NameWrite, ttl, failedAt, outcomes, accepted, !replan);
  }

  async function resolveFailure(
    write: NameWrite,
    ttl: number,
    master: Parameters<NameReader["read"]>[1],
    outcomes: NameOutcome[],
    accepted: Set<string>,
    retried: boolean,
  ) {
    // Read back where the prerequisite was evaluated (or the next candidate if it just went away).
    const state = await reader.read(write.name, master).catch(() => reader.read(write.name));
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
        const failedAt = await sendBatch([plan.write], ttl, outcomes, accepted);
        if (failedAt !== undefined) await resolveFailure(plan.write, ttl, failedAt, outcomes, accepted, true);
      }
    }
  }

  async function setAddresses(changes: AddressChange[], setOpts: { ttl?: number } = {}): Promise<SetResult> {
    const ttl = setOpts.ttl ?? dns.ttl;
    // Validate everything before anything is sent: bad input changes nothing.
    const normalized = changes.map((c, i) => ({
      claim: c.claim,
      ttl: c.ttl ?? ttl,
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
        writes.push({
          name: c.name,
          desired: c.desired,
          form: formForExpectation(c.expect, ownerTxt),
          ttl: c.ttl,
        });
        continue;
      }
      const state = await reader.read(c.name);
      const plan = c.claim
        ? planClaim(c.name, c.desired, state, c.claim, dns.ownerId, c.ttl)
        : planFromState(c.name, c.desired, state, c.ttl);
      const master = state.master;
      if (plan.kind === "write") writes.push(plan.write);
      else if (plan.kind === "unchanged")
        outcomes.push({ name: c.name, status: "unchanged", master, ...c.desired });
      else if (plan.kind === "refused")
        outcomes.push({ name: c.name, status: "refused", master, reason: plan.reason, actual: pick(state) });
      else outcomes.push({ name: c.name, status: "not-owned", master, actual: pick(state) });
    }
    await sendAll(writes, ttl, outcomes, accepted, true);
    const order = new Map(normalized.map((c, i) => [c.name, i]));
    outcomes.sort((x, y) => (order.get(x.name) ?? 0) - (order.get(y.name) ?? 0));
    return { outcomes, acceptedBy: [...accepted] };
  }

  /** Packs `writes` into as few messages as fit and sends them in order. */
  async function sendAll(
    writes: readonly NameWrite[],
    ttl: number,
    outcomes: NameOutcome[],
    accepted: Set<string>,
    replan: boolean,
  ): Promise<void> {
    const size = (batch: NameWrite[]) => encodeBatch(0, batch, ttl).length + tsigOverhead;
    try {
      for (const batch of batchWrites(writes, size, maxMessageBytes))
        await writeBatch(batch, ttl, outcomes, accepted, replan);
    } catch (err) {
      // Earlier messages may have landed: say which names are settled, so only the rest is journaled.
      if (err instanceof DnsAllMastersFailed || err instanceof DnsRejected) err.completed = [...outcomes];
      throw err;
    }
  }

  async function applyWrites(writes: readonly NameWrite[]): Promise<SetResult> {
    const outcomes: NameOutcome[] = [];
    const accepted = new Set<string>();
    await sendAll(writes, dns.ttl, outcomes, accepted, false);
    const order = new Map(writes.map((w, i) => [w.name, i]));
    outcomes.sort((x, y) => (order.get(x.name) ?? 0) - (order.get(y.name) ?? 0));
    return { outcomes, acceptedBy: [...accepted] };
  }

  return { setAddresses, applyWrites };
}

function addr(x: Addresses): Addresses {
  return { a: [...x.a], aaaa: [...x.aaaa] };
}

function pick(s: NameState): Addresses & { txt: string[] } {
  return { a: s.a, aaaa: s.aaaa, txt: s.txt };
}
