import type { Secret } from "../config/secret.ts";
import type { DnsConfig, DnsMaster } from "../config/types.ts";
import { type AdoptOptions, type AdoptResult, adoptName } from "./adopt.ts";
import { assembleDnsParts } from "./assemble.ts";
import { type NameWrite, normalizeName } from "./changes.ts";
import type { SoaRecord } from "./masters.ts";
import type { Expectation, PropagationReport } from "./propagation.ts";
import { createPropagationChecker } from "./propagation-read.ts";
import type { AddressChange, DeleteResult, NameIo, NameRecords, SetResult, WithdrawResult } from "./types.ts";
import { encodeUpdate } from "./wire/update.ts";
import { applyWithdrawal, deleteName, type PlannedWithdrawal, withdrawName } from "./withdraw.ts";

export type { SoaRecord } from "./masters.ts";
export type { Expectation, PropagationReport } from "./propagation.ts";
export type {
  AddressChange,
  DeleteResult,
  NameOutcome,
  NameRecords,
  SetResult,
  WithdrawResult,
} from "./types.ts";

// The DNS engine the orchestrator and the CLI call, assembled from its three
// jobs: which master (masters.ts), reading names (read.ts), writing them
// (write.ts, update-send.ts, withdraw.ts), plus whether clients' servers
// follow (propagation-read.ts). Safe (owned, compare-and-swap) batched
// updates go to the primary or the first candidate that answers.

export interface DnsClient {
  setAddresses(changes: AddressChange[], opts?: { ttl?: number }): Promise<SetResult>;
  /** Sends planned writes (lib/plan/dns.ts) as they are: compare-and-swap against the plan's read. */
  applyWrites(writes: readonly NameWrite[]): Promise<SetResult>;
  deleteName(name: string): Promise<DeleteResult>;
  /** Adds our ownership TXT to a name that exists without it, changing nothing else (adopt.ts). */
  adoptName(name: string, opts: AdoptOptions): Promise<AdoptResult>;
  /** Withdraws a guest's name nobody claims any more (see withdraw.ts): one read, then applyWithdrawal. */
  withdrawName(name: string, vmid: number): Promise<WithdrawResult>;
  /** Sends a withdrawal planned from an earlier read (planWithdrawal) as it is: compare-and-swap against that read. */
  applyWithdrawal(planned: PlannedWithdrawal): Promise<WithdrawResult>;
  /** Reads A/AAAA/TXT at `master`, or at the first candidate that answers. */
  query(name: string, master?: DnsMaster): Promise<NameRecords>;
  querySoa(master?: DnsMaster): Promise<SoaRecord>;
  /** Who answers the names with the expected addresses: masters, listed servers, the NS set (propagation.ts). */
  checkPropagation(expectations: readonly Expectation[]): Promise<PropagationReport>;
  /** Checks again until every reachable server agrees, at most `waitMs` (default dns.propagation.waitSeconds). */
  awaitPropagation(
    expectations: readonly Expectation[],
    waitMs?: number,
  ): Promise<PropagationReport & { elapsedMs: number }>;
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

export function createDnsClient(opts: DnsClientOptions): DnsClient {
  const { session, reader, sender, writer } = assembleDnsParts(opts);
  const zone = session.zone;
  const propagation = createPropagationChecker(session, reader);

  const io: NameIo = {
    zone,
    ownerId: opts.dns.ownerId,
    read: (name, master) => reader.read(name, master),
    async update(what, sections, check) {
      return sender.send(what, (id) => encodeUpdate({ id, zone, ...sections }), check);
    },
  };

  return {
    setAddresses: writer.setAddresses,
    applyWrites: writer.applyWrites,
    deleteName: (name) => deleteName(io, name),
    withdrawName: (name, vmid) => withdrawName(io, name, vmid),
    adoptName: (name, opts) => adoptName(io, normalizeName(name, zone, "name"), opts),
    applyWithdrawal: (planned) => applyWithdrawal(io, planned),
    query: (name, master) => reader.read(normalizeName(name, zone, "name"), master),
    querySoa: session.querySoa,
    checkPropagation: propagation.check,
    awaitPropagation: propagation.waitFor,
  };
}
