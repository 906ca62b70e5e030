import { CLASS_ANY, CLASS_IN, CLASS_NONE, OPCODE_QUERY, OPCODE_UPDATE, TYPE } from "./constants.ts";
import {
  EMPTY_RDATA,
  encodeHeader,
  encodeQuestion,
  encodeRdata,
  encodeRecord,
  type Rdata,
  type RecordTypeName,
} from "./rr.ts";

// RFC 2136 UPDATE messages, pure: zone -> question section, prerequisites ->
// answer section, updates -> authority section. TSIG is added by tsig.ts.

export type Prerequisite =
  /** RFC 2136 2.4.2: the RRset exists and holds exactly these values (all of one type). */
  | { kind: "rrsetEquals"; name: string; rdata: Rdata[] }
  /** 2.4.1: an RRset of this type exists, whatever its values. */
  | { kind: "rrsetExists"; name: string; type: RecordTypeName }
  /** 2.4.3: no RRset of this type exists. */
  | { kind: "rrsetAbsent"; name: string; type: RecordTypeName }
  /** 2.4.4: the name owns at least one RR. */
  | { kind: "nameInUse"; name: string }
  /** 2.4.5: the name owns no RR at all. */
  | { kind: "nameAbsent"; name: string };

export type UpdateOp =
  | { kind: "add"; name: string; ttl: number; rdata: Rdata }
  /** 2.5.2: delete the whole RRset of this type. */
  | { kind: "deleteRRset"; name: string; type: RecordTypeName }
  /** 2.5.3: delete every RRset of the name. */
  | { kind: "deleteName"; name: string }
  /** 2.5.4: delete one RR. */
  | { kind: "deleteRR"; name: string; rdata: Rdata };

export interface UpdateMessage {
  id: number;
  zone: string;
  prerequisites: Prerequisite[];
  updates: UpdateOp[];
}

function encodePrerequisite(p: Prerequisite): Buffer[] {
  switch (p.kind) {
    case "rrsetEquals":
      return p.rdata.map((r) => encodeRecord(p.name, TYPE[r.type], CLASS_IN, 0, encodeRdata(r)));
    case "rrsetExists":
      return [encodeRecord(p.name, TYPE[p.type], CLASS_ANY, 0, EMPTY_RDATA)];
    case "rrsetAbsent":
      return [encodeRecord(p.name, TYPE[p.type], CLASS_NONE, 0, EMPTY_RDATA)];
    case "nameInUse":
      return [encodeRecord(p.name, TYPE.ANY, CLASS_ANY, 0, EMPTY_RDATA)];
    case "nameAbsent":
      return [encodeRecord(p.name, TYPE.ANY, CLASS_NONE, 0, EMPTY_RDATA)];
  }
}

function encodeUpdateOp(u: UpdateOp): Buffer {
  switch (u.kind) {
    case "add":
      return encodeRecord(u.name, TYPE[u.rdata.type], CLASS_IN, u.ttl, encodeRdata(u.rdata));
    case "deleteRRset":
      return encodeRecord(u.name, TYPE[u.type], CLASS_ANY, 0, EMPTY_RDATA);
    case "deleteName":
      return encodeRecord(u.name, TYPE.ANY, CLASS_ANY, 0, EMPTY_RDATA);
    case "deleteRR":
      return encodeRecord(u.name, TYPE[u.rdata.type], CLASS_NONE, 0, encodeRdata(u.rdata));
  }
}

/** The unsigned UPDATE message. Throws RangeError on a malformed name or address. */
export function encodeUpdate(msg: UpdateMessage): Buffer {
  const prereqs = msg.prerequisites.flatMap(encodePrerequisite);
  const updates = msg.updates.map(encodeUpdateOp);
  return Buffer.concat([
    encodeHeader(msg.id, OPCODE_UPDATE << 11, [1, prereqs.length, updates.length, 0]),
    encodeQuestion(msg.zone, TYPE.SOA, CLASS_IN),
    ...prereqs,
    ...updates,
  ]);
}

/** A non-recursive query (RD clear: masters are asked directly). */
export function encodeQuery(id: number, name: string, type: RecordTypeName): Buffer {
  return Buffer.concat([
    encodeHeader(id, OPCODE_QUERY << 11, [1, 0, 0, 0]),
    encodeQuestion(name, TYPE[type], CLASS_IN),
  ]);
}
