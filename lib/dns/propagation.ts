import { BlockList, isIPv6 } from "node:net";
import type { DnsMaster, DnsPropagation } from "../config/types.ts";
import { type Addresses, sameAddresses } from "./changes.ts";
import { masterLabel } from "./errors.ts";
import { canonicalAddress } from "./wire/codec.ts";

// PURE: does every server clients may ask answer a switched name with its
// new addresses? A change at the master is not what clients follow:
// secondaries lag behind NOTIFY, and two master candidates can disagree.
// Which servers to ask: every master candidate, the servers listed in
// dns.propagation.servers, and the zone's NS set (addresses resolved at the
// masters) when dns.propagation.nameServers is on, but only addresses inside
// dns.propagation.allow (tests allow 127.0.0.0/8 only; the default allows
// any). An NS address that is a master candidate's host is that master.

export interface PropagationServer extends DnsMaster {
  label: string;
  /** Masters are read with signed queries; others (public name servers) unsigned. */
  role: "master" | "listed" | "ns";
}

export interface NsAddress {
  /** The NS target name, e.g. ns2.example.org. */
  name: string;
  address: string;
}

export interface Skipped {
  address: string;
  reason: string;
}

export const MASTERS_ONLY: DnsPropagation = {
  nameServers: false,
  allow: [],
  port: 53,
  servers: [],
  waitSeconds: 0,
};

function allowList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [net = "", bits = "0"] = cidr.split("/");
    list.addSubnet(net, Number(bits), isIPv6(net) ? "ipv6" : "ipv4");
  }
  return list;
}

const canonical = (host: string) =>
  canonicalAddress(host.replace(/^\[|\]$/g, ""))?.address ?? host.toLowerCase();

/** The servers to ask and the NS addresses left out (with why). */
export function propagationServers(
  masters: readonly DnsMaster[],
  nameServers: readonly NsAddress[],
  settings: DnsPropagation,
): { servers: PropagationServer[]; skipped: Skipped[] } {
  const servers: PropagationServer[] = [];
  const seen = new Set<string>();
  const add = (m: DnsMaster, role: PropagationServer["role"]) => {
    const label = masterLabel(m);
    if (seen.has(label)) return;
    seen.add(label);
    servers.push({ ...m, label, role });
  };
  for (const m of masters) add(m, "master");
  for (const m of settings.servers) add(m, "listed");
  const skipped: Skipped[] = [];
  if (!settings.nameServers) return { servers, skipped };
  const masterHosts = new Set(masters.map((m) => canonical(m.host)));
  const allowed = allowList(settings.allow);
  for (const ns of nameServers) {
    const address = canonical(ns.address);
    if (masterHosts.has(address)) continue;
    const family = isIPv6(address) ? "ipv6" : "ipv4";
    if (!allowed.check(address, family)) {
      if (!skipped.some((s) => s.address === address))
        skipped.push({ address, reason: `NS ${ns.name}: outside dns.propagation.allow, not asked` });
      continue;
    }
    add({ host: address, port: settings.port }, "ns");
  }
  return { servers, skipped };
}

export interface Expectation {
  name: string;
  expected: Addresses;
}

export type ServerAnswer =
  | { server: string; name: string; ok: true; answer: Addresses }
  | { server: string; name: string; ok: false; reason: string };

export interface PropagationReport {
  /** Every server asked answers every name with its expected addresses. */
  agreed: boolean;
  asked: string[];
  /** Servers that still answer something else (the old address, typically). */
  lagging: Array<{ server: string; name: string; answer: string[]; expected: string[] }>;
  unreachable: Array<{ server: string; name: string; reason: string }>;
  skipped: Skipped[];
}

export function comparePropagation(
  expectations: readonly Expectation[],
  answers: readonly ServerAnswer[],
  asked: readonly string[],
  skipped: readonly Skipped[],
): PropagationReport {
  const wanted = new Map(expectations.map((e) => [e.name, e.expected]));
  const lagging: PropagationReport["lagging"] = [];
  const unreachable: PropagationReport["unreachable"] = [];
  for (const a of answers) {
    const expected = wanted.get(a.name);
    if (!expected) continue;
    if (!a.ok) unreachable.push({ server: a.server, name: a.name, reason: a.reason });
    else if (!sameAddresses(a.answer, expected))
      lagging.push({
        server: a.server,
        name: a.name,
        answer: [...a.answer.a, ...a.answer.aaaa],
        expected: [...expected.a, ...expected.aaaa],
      });
  }
  return {
    agreed: lagging.length === 0 && unreachable.length === 0,
    asked: [...asked],
    lagging,
    unreachable,
    skipped: [...skipped],
  };
}

/** Lines for humans: who agrees, who still answers what. */
export function describePropagation(r: PropagationReport, elapsedMs?: number): string[] {
  const after = elapsedMs === undefined ? "" : ` after ${Math.round(elapsedMs)} ms`;
  const lines = r.agreed
    ? [`all ${r.asked.length} server(s) answer the new address${after} (${r.asked.join(", ")})`]
    : [`not every server answers the new address yet${after}:`];
  for (const l of r.lagging)
    lines.push(
      `  ${l.server}: ${l.name} = ${l.answer.join(",") || "(nothing)"}, not ${l.expected.join(",")}`,
    );
  for (const u of r.unreachable) lines.push(`  ${u.server}: ${u.name}: no answer (${u.reason})`);
  for (const s of r.skipped) lines.push(`  ${s.address}: ${s.reason}`);
  return lines;
}
