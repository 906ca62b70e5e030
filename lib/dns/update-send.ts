import type { DnsMaster } from "../config/types.ts";
import { messageOf } from "../errors.ts";
import { observedSend } from "../metrics/events.ts";
import type { NameState } from "./changes.ts";
import type { FinalReply } from "./classify.ts";
import { DnsAllMastersFailed, masterLabel } from "./errors.ts";
import type { AttemptResult } from "./failover.ts";
import { type MasterSession, updateRequest } from "./masters.ts";
import type { NameReader } from "./read.ts";
import type { UpdateCheck } from "./readback.ts";
import { RCODE } from "./wire/constants.ts";

// Sending one UPDATE with failover, and never mistaking "no answer" for
// "nothing changed". When the request left this host and no trustworthy
// reply came back (a reply after the per-attempt timeout, a connection lost
// after sending, a truncated reply over TCP, a reply that fails its checks),
// the names are read back BEFORE the next candidate is tried: the state the
// update produces means it was applied (reported so, with why); the state its
// prerequisites demanded means it was not (next candidate); anything else,
// or no read-back at all, stays "may have been applied" in the error, so the
// caller's journal item stays until a later read settles it.

export interface UpdateSent {
  master: DnsMaster;
  rcode: number;
  /** Set when no reply was trusted and a read-back showed the update applied: why, and where it was read. */
  readBack?: string;
}

export interface UpdateSender {
  /** Throws DnsRejected (a final refusal) or DnsAllMastersFailed (none answered; may say "may have been applied"). */
  send(what: string, build: (id: number) => Buffer, check?: UpdateCheck): Promise<UpdateSent>;
}

type Answer = FinalReply | { kind: "confirmed"; readBack: string };

export function createUpdateSender(
  session: MasterSession,
  reader: NameReader,
  demote: (m: DnsMaster) => void,
): UpdateSender {
  /**
   * Reads every name of `check` at the other candidates (at `quiet` itself
   * only when it is the only one: a silent master would be waited out
   * twice, a slow one answers then) and judges.
   */
  async function readBack(
    check: UpdateCheck,
    quiet: DnsMaster,
    end: number,
  ): Promise<{ verdict: ReturnType<UpdateCheck["judge"]>; where: string } | { error: string }> {
    const states = new Map<string, NameState>();
    const where = new Set<string>();
    try {
      for (const name of check.names) {
        const at = await reader.read(name, undefined, {
          budgetMs: Math.max(1, end - Date.now()),
          except: quiet,
        });
        states.set(name, at);
        where.add(at.master);
      }
    } catch (err) {
      const failures = err instanceof DnsAllMastersFailed ? err.failures : undefined;
      return {
        error: failures
          ? `no candidate answered (${failures.map((f) => `${f.master}: ${f.reason}`).join("; ")})`
          : messageOf(err),
      };
    }
    return { verdict: check.judge(states), where: [...where].join(", ") };
  }

  async function send(
    failed: string[],
    what: string,
    build: (id: number) => Buffer,
    check?: UpdateCheck,
  ): Promise<UpdateSent> {
    const request = updateRequest(session.zone, build);
    const attempt = async (m: DnsMaster, deadline: number, end: number): Promise<AttemptResult<Answer>> => {
      const r = await session.attemptOnce(m, deadline, request);
      if (r.kind === "final" || !r.ambiguous || !check) return r;
      demote(m);
      const rb = await readBack(check, m, end);
      if ("error" in rb)
        return { kind: "next", reason: `${r.reason}; read-back failed: ${rb.error}`, ambiguous: true };
      if (rb.verdict === "applied")
        return {
          kind: "final",
          value: { kind: "confirmed", readBack: `${r.reason}; read back at ${rb.where}: applied` },
        };
      if (rb.verdict === "not-applied")
        return { kind: "next", reason: `${r.reason}; read back at ${rb.where}: not applied` };
      return {
        kind: "next",
        reason: `${r.reason}; read back at ${rb.where}: changed by someone else meanwhile`,
        ambiguous: true,
      };
    };
    const won = await session.failover(what, async (m, deadline, end) => {
      const r = await attempt(m, deadline, end);
      // Every attempt a master failed, in every round (metrics: failures per master).
      if (r.kind === "next") failed.push(masterLabel(m));
      return r;
    });
    const v = won.value;
    if (v.kind === "confirmed") return { master: won.master, rcode: RCODE.NOERROR, readBack: v.readBack };
    const message = session.finalOrThrow(what, won.master, v);
    return { master: won.master, rcode: message.rcode };
  }

  // Each message timed and published per master (lib/metrics/events.ts).
  return { send: observedSend(send, (r) => masterLabel(r.master)) };
}
