import type { Proto } from "../config/types.ts";
import type { RoutingState } from "./policy.ts";
import { byProtoPort, type NatForward } from "./spec.ts";

// PURE: what `nft list table ip|ip6 X` (layout, as text: it is nft's
// canonical form) and `nft -j list table ip|ip6 X` (map and set elements, as
// JSON: structured, and carries each grace element's remaining time) say
// about the tables.

export interface TableState {
  exists: boolean;
  /** "map fwd_tcp: type ...", "chain prerouting: iifname ..." in file order; elements left out. */
  layout: string[];
}

export interface NatCurrent {
  table: string;
  /** The `table ip` (IPv4). */
  exists: boolean;
  layout: string[];
  /** The `table ip6`; absent means it does not exist. */
  ip6?: TableState;
  /** Our maps' elements, both families; graceUntil = read time + remaining seconds. */
  forwards: NatForward[];
  /** Our sets' elements: "ip grace_keep" -> sorted elements. */
  sets?: Record<string, string[]>;
  /** Policy routing rules and routes (only read when there is something to compare). */
  routing?: RoutingState;
}

const BLOCK_START = /^(\S+) (\S+) \{$/;

/** Layout lines from nft's text listing of one table. */
export function parseNftLayout(text: string): string[] {
  const out: string[] = [];
  let block: string | undefined;
  let inElements = false;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    if (inElements) {
      if (line.endsWith("}")) inElements = false;
      continue;
    }
    if (block === undefined) {
      const m = BLOCK_START.exec(line);
      if (m && m[1] !== "table") block = `${m[1]} ${m[2]}`;
      continue;
    }
    if (line === "}") {
      block = undefined;
    } else if (line.startsWith("elements = {")) {
      inElements = !line.endsWith("}");
    } else {
      out.push(`${block}: ${line}`);
    }
  }
  return out;
}

const MAP_NAME = /^(fwd|grace)_(tcp|udp)$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Forward entries from `nft -j list table` output; anything unexpected throws. */
export function parseNftElements(json: string, now: number): NatForward[] {
  const doc: unknown = JSON.parse(json);
  const items = isRecord(doc) && Array.isArray(doc.nftables) ? doc.nftables : [];
  const out: NatForward[] = [];
  for (const item of items) {
    if (!isRecord(item) || !isRecord(item.map)) continue;
    const map = item.map;
    const m = typeof map.name === "string" ? MAP_NAME.exec(map.name) : null;
    if (!m) continue;
    const proto = m[2] as Proto;
    const grace = m[1] === "grace";
    for (const elem of Array.isArray(map.elem) ? map.elem : []) {
      const fwd = parseElement(elem, proto, grace, now);
      out.push(map.family === "ip6" ? { family: 6, ...fwd } : fwd);
    }
  }
  return out.sort(byProtoPort);
}

/** Our sets' elements (plain addresses) from `nft -j list table`, keyed "ip grace_keep". */
export function parseNftSets(json: string): Record<string, string[]> {
  const doc: unknown = JSON.parse(json);
  const items = isRecord(doc) && Array.isArray(doc.nftables) ? doc.nftables : [];
  const out: Record<string, string[]> = {};
  for (const item of items) {
    if (!isRecord(item) || !isRecord(item.set)) continue;
    const { family, name, elem } = item.set;
    if (typeof family !== "string" || typeof name !== "string") continue;
    const elements = (Array.isArray(elem) ? elem : []).map((e: unknown) => {
      if (typeof e !== "string")
        throw new Error(`unexpected element in nft set ${name}: ${JSON.stringify(e)}`);
      return e;
    });
    out[`${family} ${name}`] = elements.sort();
  }
  return out;
}

function parseElement(elem: unknown, proto: Proto, grace: boolean, now: number): NatForward {
  const bad = (): never => {
    throw new Error(`unexpected element in nft map: ${JSON.stringify(elem)}`);
  };
  if (!Array.isArray(elem) || elem.length !== 2) return bad();
  const [key, value] = elem as [unknown, unknown];
  let port: unknown = key;
  let expires: unknown;
  if (isRecord(key) && isRecord(key.elem)) {
    port = key.elem.val;
    expires = key.elem.expires;
  }
  const concat = isRecord(value) && Array.isArray(value.concat) ? value.concat : [];
  const [target, targetPort] = concat as [unknown, unknown];
  if (typeof port !== "number" || typeof target !== "string" || typeof targetPort !== "number") return bad();
  const fwd: NatForward = { proto, publicPort: port, target, targetPort };
  if (grace) fwd.graceUntil = now + (typeof expires === "number" ? expires * 1000 : 0);
  return fwd;
}
