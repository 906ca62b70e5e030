import { randomBytes } from "node:crypto";
import type { DnsConfig, DnsMaster } from "../config/types.ts";
import type { Addresses } from "../dns/changes.ts";
import { masterLabel } from "../dns/errors.ts";
import { answersOf, createMasterSession, queryRequest, updateRequest } from "../dns/masters.ts";
import { RCODE, rcodeName, TYPE } from "../dns/wire/constants.ts";
import { readAddress, readSoa } from "../dns/wire/response.ts";
import type { TsigKey } from "../dns/wire/tsig.ts";
import { encodeUpdate } from "../dns/wire/update.ts";

// The I/O half of doctor's DNS checks: each master candidate on its own
// (no failover, which would hide a dead one), with signed exchanges only:
// - the zone's SOA, which proves address, port, zone and key, and whose
//   signed reply carries the master's clock (TSIG time signed, RFC 8945 4.3);
// - an UPDATE that cannot change anything: prerequisite "a random name
//   under the zone owns no record" and, for that name, "delete the A, AAAA
//   and TXT RRsets" (the types we write). RFC 2136 3.2 checks prerequisites
//   before 3.3 permissions, so a prerequisite that fails (the apex "not in
//   use") answers YXDOMAIN even to a key that may not update: checked with
//   BIND 9.18. With a prerequisite that holds, the server must decide on
//   our key: NOERROR (the deletes are no-ops, the serial stays) or REFUSED
//   ("rejected by secure update") / NOTAUTH. Run against BIND, Knot (a key
//   its acls do not let update: NOTAUTH) and PowerDNS (a key missing from
//   TSIG-ALLOW-DNSUPDATE: a signed REFUSED) in test/doctor/;
// - the configured names' addresses, to compare what the masters answer.
// The judging is pure (check-dns.ts).

export type ProbeFailure =
  /** No trustworthy answer: timeout, refused connection, SERVFAIL, a reply that does not verify. */
  | { kind: "down"; reason: string }
  /** A final refusal the server signed or explained (REFUSED, NOTAUTH, a TSIG error). */
  | { kind: "rejected"; rcode: string; detail: string };

export type UpdateProbe =
  | { kind: "allowed" }
  | { kind: "refused"; rcode: string; detail: string }
  | { kind: "unknown"; reason: string };

export interface MasterProbe {
  master: string;
  failure?: ProbeFailure;
  serial?: number;
  /** The master's clock minus ours, in seconds, from its signed SOA reply. */
  skewSeconds?: number;
  update?: UpdateProbe;
  /** Addresses of the compared names, by name. */
  answers?: Map<string, Addresses>;
}

/** How many configured names doctor compares across masters (each costs two queries per master). */
export const COMPARED_NAMES = 20;

export interface ProbeOptions {
  dns: DnsConfig;
  key: TsigKey;
  /** Wall clock in ms, used to sign and to measure the skew (tests skew it). */
  clock: () => number;
  /** Names whose answers are compared across masters. */
  names: readonly string[];
}

export async function probeMasters(opts: ProbeOptions): Promise<MasterProbe[]> {
  const { dns, key, clock } = opts;
  const session = createMasterSession({ dns, key, clock });
  const zone = session.zone;
  const probeName = `_pvemigrate-doctor-${randomBytes(6).toString("hex")}.${zone}`;
  const deadline = () => Date.now() + dns.timeoutMs;

  async function ask(master: DnsMaster, name: string, type: "SOA" | "A" | "AAAA") {
    const r = await session.attemptOnce(master, deadline(), queryRequest(name, type));
    if (r.kind === "next") return { failure: { kind: "down", reason: r.reason } as const };
    if (r.value.kind === "rejected")
      return { failure: { kind: "rejected", rcode: r.value.rcode, detail: r.value.detail } as const };
    return { message: r.value.message, at: clock() / 1000 };
  }

  async function updateProbe(master: DnsMaster): Promise<UpdateProbe> {
    const request = updateRequest(zone, (id) =>
      encodeUpdate({
        id,
        zone,
        prerequisites: [{ kind: "nameAbsent", name: probeName }],
        updates: (["A", "AAAA", "TXT"] as const).map((type) => ({
          kind: "deleteRRset",
          name: probeName,
          type,
        })),
      }),
    );
    const r = await session.attemptOnce(master, deadline(), request);
    if (r.kind === "next") return { kind: "unknown", reason: r.reason };
    if (r.value.kind === "rejected") return { kind: "refused", rcode: r.value.rcode, detail: r.value.detail };
    const rcode = r.value.message.rcode;
    return rcode === RCODE.NOERROR
      ? { kind: "allowed" }
      : {
          kind: "unknown",
          reason: `answered ${rcodeName(rcode)} to a probe that should pass its prerequisite`,
        };
  }

  async function one(master: DnsMaster): Promise<MasterProbe> {
    const label = masterLabel(master);
    const soa = await ask(master, zone, "SOA");
    if (soa.failure) return { master: label, failure: soa.failure };
    const record = answersOf(soa.message, zone, TYPE.SOA)[0];
    const rdata = record ? readSoa(soa.message, record) : undefined;
    if (!rdata) {
      const rcode = rcodeName(soa.message.rcode);
      return { master: label, failure: { kind: "rejected", rcode, detail: "no SOA in the answer" } };
    }
    const signedAt = soa.message.tsig?.timeSigned;
    const answers = new Map<string, Addresses>();
    for (const name of opts.names) {
      const got: Addresses = { a: [], aaaa: [] };
      let complete = true;
      for (const type of ["A", "AAAA"] as const) {
        const r = await ask(master, name, type);
        if (r.failure) complete = false;
        else
          for (const rec of answersOf(r.message, name.toLowerCase().replace(/\.$/, ""), TYPE[type])) {
            const a = readAddress(rec);
            if (a) got[type === "A" ? "a" : "aaaa"].push(a);
          }
      }
      if (complete) answers.set(name, got);
    }
    return {
      master: label,
      serial: rdata.serial,
      ...(signedAt !== undefined ? { skewSeconds: Math.round(signedAt - soa.at) } : {}),
      update: await updateProbe(master),
      answers,
    };
  }

  return Promise.all(dns.masters.map(one));
}
