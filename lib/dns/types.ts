import type { DnsMaster } from "../config/types.ts";
import type { Addresses, Claim, NameState } from "./changes.ts";
import type { UpdateCheck } from "./readback.ts";
import type { Prerequisite, UpdateOp } from "./wire/update.ts";

// The DNS engine's inputs and results as plain data, in a leaf module so the
// client, the errors that carry outcomes and the withdrawal code share them
// without importing each other.

export interface AddressChange {
  /** FQDN inside dns.zone. */
  name: string;
  a: string[];
  aaaa: string[];
  /** What the name holds now, as the caller believes. Omitted: read it first and swap against that. */
  expect?: Addresses;
  /**
   * The guest the name is written for (the merged config's one claimant of
   * it): the ownership rules of claims.ts decide, and the TXT is labelled
   * with the guest. Omitted (`dns set`): any name of ours, its TXT kept as is.
   */
  claim?: Claim;
  /** TTL of the name's records (a name already right but served with another TTL is rewritten); default the call's. */
  ttl?: number;
}

export type NameOutcome =
  | {
      name: string;
      status: "updated";
      master: string;
      a: string[];
      aaaa: string[];
      /** No trustworthy reply came back, and a read-back showed the update applied: why, and where. */
      readBack?: string;
    }
  /** Already held exactly the desired addresses (e.g. an earlier attempt whose reply was lost). */
  | { name: string; status: "unchanged"; master: string; a: string[]; aaaa: string[] }
  /** The compare-and-swap failed: the name holds `actual`, not what was expected. Nothing changed. */
  | { name: string; status: "stale"; master: string; expected: Addresses; actual: Addresses }
  /** The name exists without our ownership TXT: never touched. */
  | { name: string; status: "not-owned"; master: string; actual: Addresses & { txt: string[] } }
  /** Ours, but the ownership rules keep this guest's claim from it (another VM's name, say). */
  | {
      name: string;
      status: "refused";
      master: string;
      reason: string;
      actual: Addresses & { txt: string[] };
    };

export interface SetResult {
  outcomes: NameOutcome[];
  /** Every master that accepted a message of this call (normally one). */
  acceptedBy: string[];
}

export type DeleteResult =
  | { name: string; status: "deleted" | "absent"; master: string }
  | { name: string; status: "not-owned"; master: string; actual: Addresses & { txt: string[] } };

export type WithdrawResult =
  /** A/AAAA and our TXT deleted (anything else at the name stays). */
  | { name: string; status: "withdrawn"; master: string }
  /** Nothing of ours there (any more). */
  | { name: string; status: "absent"; master: string }
  /** Still the guest's, but changed by someone else between the plan's read and our delete: next run. */
  | { name: string; status: "stale"; master: string }
  /** Not the guest's name now (another VM's label, no label, not ours) or changed meanwhile: nothing deleted. */
  | { name: string; status: "kept"; master: string; reason: string; actual: Addresses & { txt: string[] } };

export interface NameRecords extends NameState {
  name: string;
  master: string;
  /** The largest TTL of its A/AAAA records as served (how long resolvers may keep them). */
  ttl?: number;
}

/** The client's I/O primitives that the withdrawal code builds on. */
export interface NameIo {
  zone: string;
  ownerId: string;
  /** A/AAAA/TXT at `master`, or at the first candidate that answers. */
  read(name: string, master?: DnsMaster): Promise<NameRecords>;
  /**
   * Sends one UPDATE with failover; throws DnsRejected / DnsAllMastersFailed.
   * `check` reads the outcome back when no reply can be trusted (update-send.ts).
   */
  update(
    what: string,
    sections: { prerequisites: Prerequisite[]; updates: UpdateOp[] },
    check?: UpdateCheck,
  ): Promise<{ master: DnsMaster; rcode: number }>;
}
