import { z } from "zod";
import type { NameState } from "../dns/changes.ts";
import { type NameOwner, nameOwner } from "../dns/ownership.ts";
import type { JournalItem } from "../state/journal-item.ts";
import type { DriftReason, MasterAnswer, NodeEntries, NodeEntry, PendingWork } from "./types.ts";

// PURE: the decisions `status` makes from what it read: whose a name is and
// why it drifts, which node entries point at a VM, how old pending work is.
// Table-tested in test/status/derive-pure.test.ts.

export function ownerText(owner: NameOwner, vmid: number): string {
  switch (owner.kind) {
    case "free":
      return "free";
    case "foreign":
      return "not ours";
    case "unlabelled":
      return "ours";
    case "vm":
      return owner.vmid === vmid ? "ours" : `vm ${owner.vmid}`;
    case "contested":
      return `contested ${owner.vmids.join(",")}`;
  }
}

/** One master's answer as status shows it. */
export function masterAnswer(master: string, state: NameState, ownerId: string, vmid: number): MasterAnswer {
  return {
    master,
    exists: state.exists,
    addresses: [...state.a, ...state.aaaa],
    owner: ownerText(nameOwner(state, ownerId), vmid),
  };
}

const key = (xs: readonly string[]) => [...xs].sort().join(",");

/**
 * Why a name is not what the config wants, from every master's answer.
 * `expected` empty (the VM does not run) means any address is fine.
 * Masters that could not be asked are no evidence either way.
 */
export function nameDrift(expected: readonly string[], masters: readonly MasterAnswer[]): DriftReason[] {
  const answered = masters.filter((m) => m.error === undefined);
  const reasons = new Set<DriftReason>();
  if (answered.some((m) => m.owner === "not ours")) reasons.add("not ours");
  if (answered.some((m) => m.owner?.startsWith("vm ") || m.owner?.startsWith("contested")))
    reasons.add("another VM's");
  if (new Set(answered.map((m) => `${m.exists}|${key(m.addresses ?? [])}`)).size > 1)
    reasons.add("diverging masters");
  if (expected.length > 0) {
    for (const m of answered) {
      if (!m.exists) reasons.add("missing");
      else if (key(m.addresses ?? []) !== key(expected)) reasons.add("stale");
    }
  }
  return [...reasons];
}

const host = (target: string) => {
  // "10.10.1.101:22", "[fd10::101]:22"
  const v6 = /^\[([^\]]+)\]:\d+$/.exec(target);
  if (v6) return v6[1];
  const i = target.lastIndexOf(":");
  return i > 0 && !target.slice(0, i).includes(":") ? target.slice(0, i) : target;
};

/** Every forward and route on the nodes, as entries (grace time relative to `now`). */
export function nodeEntryList(nodes: readonly NodeEntries[], now: number): NodeEntry[] {
  const out: NodeEntry[] = [];
  for (const n of nodes) {
    for (const f of n.forwards) {
      const target = f.target.includes(":") ? `[${f.target}]:${f.targetPort}` : `${f.target}:${f.targetPort}`;
      out.push({
        node: n.node,
        kind: "forward",
        key: `${f.family === 6 ? "ip6 " : ""}${f.proto}/${f.publicPort}`,
        target,
        ...(f.graceUntil === undefined
          ? {}
          : { graceSeconds: Math.max(0, Math.round((f.graceUntil - now) / 1000)) }),
      });
    }
    for (const kind of ["sni", "http"] as const) {
      for (const [name, target] of Object.entries(n.routes[kind]).sort()) {
        out.push({ node: n.node, kind, key: name, target });
      }
    }
  }
  return out;
}

/** A VM's entries: those on its node, and those elsewhere (grace after a move). */
export function entriesOf(
  entries: readonly NodeEntry[],
  addresses: readonly string[],
  node: string | undefined,
): { present: NodeEntry[]; grace: NodeEntry[] } {
  const mine = entries.filter((e) => addresses.includes(host(e.target) ?? ""));
  return {
    present: mine.filter((e) => e.node === node),
    grace: mine.filter((e) => e.node !== node),
  };
}

const withVmid = z.looseObject({ vmid: z.number().int().positive() });

/** The guest a journal item is for: its payload's vmid (hook, dns and withdraw work), else none (node work). */
export function vmidOfItem(item: Pick<JournalItem, "payload">): number | undefined {
  const parsed = withVmid.safeParse(item.payload);
  return parsed.success ? parsed.data.vmid : undefined;
}

export function pendingOf(items: readonly JournalItem[], journal: string, now: number): PendingWork[] {
  return items.map((item) => {
    const vmid = vmidOfItem(item);
    const created = Date.parse(item.createdAt);
    return {
      id: item.id,
      kind: item.kind,
      journal,
      ...(vmid === undefined ? {} : { vmid }),
      reason: item.lastError ?? "not tried yet",
      attempts: item.attempts,
      ageSeconds: Number.isFinite(created) ? Math.max(0, Math.round((now - created) / 1000)) : 0,
    };
  });
}
