import { randomInt } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { DnsMaster } from "../config/types.ts";
import { messageOf } from "../errors.ts";
import { answersOf, type MasterSession, queryRequest } from "./masters.ts";
import {
  comparePropagation,
  type Expectation,
  MASTERS_ONLY,
  type NsAddress,
  type PropagationReport,
  type PropagationServer,
  propagationServers,
  type ServerAnswer,
  type Skipped,
} from "./propagation.ts";
import type { NameReader } from "./read.ts";
import { exchange } from "./transport.ts";
import { decodeName } from "./wire/codec.ts";
import { CLASS_IN, FLAG_AA, OPCODE_QUERY, RCODE, rcodeName, TYPE } from "./wire/constants.ts";
import { type ParsedMessage, parseMessage, readAddress } from "./wire/response.ts";
import { encodeQuery } from "./wire/update.ts";

// The propagation check's I/O: the zone's NS set resolved at the masters,
// the switched names read at every server propagation.ts picks, and a bounded
// wait until they agree. Masters are read signed (read.ts); name servers
// with plain queries, as any resolver asks them, and only their
// authoritative answers count.

export interface PropagationChecker {
  /** One pass over every server. */
  check(expectations: readonly Expectation[]): Promise<PropagationReport>;
  /** Passes until every reachable server agrees or `waitMs` ran out; `elapsedMs` since the call. */
  waitFor(
    expectations: readonly Expectation[],
    waitMs?: number,
  ): Promise<PropagationReport & { elapsedMs: number }>;
}

/** Passes start close together (a NOTIFYed secondary follows in milliseconds) and back off to 0.5 s. */
const FIRST_INTERVAL_MS = 20;
const MAX_INTERVAL_MS = 500;

/** An unsigned query's authoritative answer, or why there is none (never throws). */
async function plainQuery(
  server: DnsMaster,
  name: string,
  type: "A" | "AAAA",
  deadline: number,
): Promise<{ ok: true; message: ParsedMessage } | { ok: false; reason: string }> {
  const id = randomInt(0, 0x10000);
  const r = await exchange(server, encodeQuery(id, name, type), { deadline });
  if (!r.ok) return { ok: false, reason: r.detail };
  const parsed = parseMessage(r.reply);
  if (!parsed.ok) return { ok: false, reason: parsed.error };
  const m = parsed.message;
  const q = m.questions[0];
  if (m.id !== id || !m.qr || m.opcode !== OPCODE_QUERY || !q || q.name.toLowerCase() !== name)
    return { ok: false, reason: "reply does not match the query" };
  if (q.type !== TYPE[type] || q.klass !== CLASS_IN)
    return { ok: false, reason: "reply does not match the query" };
  if (m.rcode !== RCODE.NOERROR && m.rcode !== RCODE.NXDOMAIN)
    return { ok: false, reason: `answered ${rcodeName(m.rcode)}` };
  if ((m.flags & FLAG_AA) === 0) return { ok: false, reason: "not authoritative for the zone (lame)" };
  return { ok: true, message: m };
}

export function createPropagationChecker(session: MasterSession, reader: NameReader): PropagationChecker {
  const { dns, zone } = session;
  const settings = dns.propagation ?? MASTERS_ONLY;

  /** A query at the masters (failover); its answers of `type` for `name`. */
  async function atMasters(name: string, type: "NS" | "A" | "AAAA") {
    const what = `read ${name} ${type}`;
    const won = await session.failover(what, (m, deadline) =>
      session.attemptOnce(m, deadline, queryRequest(name, type)),
    );
    const msg = session.finalOrThrow(what, won.master, won.value);
    return { msg, records: answersOf(msg, name, TYPE[type]) };
  }

  /** NS targets and their addresses as the masters answer them; what cannot be resolved is skipped. */
  async function nameServers(): Promise<{ found: NsAddress[]; skipped: Skipped[] }> {
    const found: NsAddress[] = [];
    const skipped: Skipped[] = [];
    if (!settings.nameServers) return { found, skipped };
    let targets: string[];
    try {
      const { msg, records } = await atMasters(zone, "NS");
      // Sorted: servers rotate the NS set's order, reports should not.
      targets = records
        .map((r) => decodeName(msg.raw, r.rdataOffset).name.toLowerCase().replace(/\.$/, ""))
        .sort();
    } catch (err) {
      return {
        found,
        skipped: [{ address: "-", reason: `the zone's NS set: ${messageOf(err).split("\n")[0]}` }],
      };
    }
    for (const target of targets) {
      const before = found.length;
      for (const type of ["A", "AAAA"] as const) {
        try {
          for (const r of (await atMasters(target, type)).records) {
            const address = readAddress(r);
            if (address) found.push({ name: target, address });
          }
        } catch {}
      }
      if (found.length === before)
        skipped.push({
          address: target,
          reason: "NS with no address the masters serve (outside the zone?), not asked",
        });
    }
    return { found, skipped };
  }

  async function answerAt(server: PropagationServer, name: string): Promise<ServerAnswer> {
    const deadline = Date.now() + dns.timeoutMs;
    if (server.role === "master") {
      try {
        const r = await reader.readAt(server, name, deadline);
        if (r.kind === "next") return { server: server.label, name, ok: false, reason: r.reason };
        return { server: server.label, name, ok: true, answer: { a: r.value.a, aaaa: r.value.aaaa } };
      } catch (err) {
        return { server: server.label, name, ok: false, reason: messageOf(err) };
      }
    }
    const [a, aaaa] = await Promise.all([
      plainQuery(server, name, "A", deadline),
      plainQuery(server, name, "AAAA", deadline),
    ]);
    if (!a.ok) return { server: server.label, name, ok: false, reason: a.reason };
    if (!aaaa.ok) return { server: server.label, name, ok: false, reason: aaaa.reason };
    const values = (m: ParsedMessage, type: number) =>
      answersOf(m, name, type)
        .map(readAddress)
        .filter((v): v is string => v !== undefined)
        .sort();
    return {
      server: server.label,
      name,
      ok: true,
      answer: { a: values(a.message, TYPE.A), aaaa: values(aaaa.message, TYPE.AAAA) },
    };
  }

  async function servers() {
    const ns = await nameServers();
    const picked = propagationServers(dns.masters, ns.found, settings);
    return { servers: picked.servers, skipped: [...ns.skipped, ...picked.skipped] };
  }

  async function pass(
    expectations: readonly Expectation[],
    found: Awaited<ReturnType<typeof servers>>,
  ): Promise<PropagationReport> {
    const answers = await Promise.all(
      found.servers.flatMap((s) => expectations.map((e) => answerAt(s, e.name))),
    );
    return comparePropagation(
      expectations,
      answers,
      found.servers.map((s) => s.label),
      found.skipped,
    );
  }

  return {
    async check(expectations) {
      return pass(expectations, await servers());
    },
    async waitFor(expectations, waitMs = settings.waitSeconds * 1000) {
      const start = Date.now();
      const found = await servers();
      for (let interval = FIRST_INTERVAL_MS; ; interval = Math.min(interval * 2, MAX_INTERVAL_MS)) {
        const report = await pass(expectations, found);
        const elapsedMs = Date.now() - start;
        // Unreachable servers are reported, not waited for: only a server that answers something else is.
        if (report.lagging.length === 0 || elapsedMs + interval > waitMs) return { ...report, elapsedMs };
        await sleep(interval);
      }
    },
  };
}
