import type { VmConfig } from "../config/types.ts";
import type { DnsDesired, NodeDesired } from "../desired/types.ts";
import { type NameState, planFromState, ttlDiffers } from "../dns/changes.ts";
import type { NatBackend } from "../nat/backend.ts";
import type { NatCurrent } from "../nat/parse.ts";
import type { NatPlan } from "../nat/plan.ts";
import type { NatForward } from "../nat/spec.ts";
import type { ProxyBackend, ProxyCurrent, ProxyPlan } from "../proxy/backend.ts";
import type { RouteTable } from "../proxy/plan.ts";
import type { Change } from "./types.ts";

// PURE: the difference between what should be (lib/desired) and what is (read
// back from nft, HAProxy, the DNS master), as one printable, JSON-able plan.
// Identical input gives an identical plan; applying an empty plan is a no-op.
// Each backend knows its own diff (lib/nat/plan.ts, lib/proxy/plan.ts,
// lib/dns/changes.ts); this module puts them side by side for a node and for DNS.

export interface NodePlan {
  node: string;
  nat: NatPlan;
  proxy: ProxyPlan;
  /** Both backends' changes, each naming this node; empty when the node already matches. */
  changes: Change[];
  /** What a backend can only do in part (an unreachable admin socket); not changes. */
  warnings: string[];
}

export function planNode(
  desired: NodeDesired,
  nat: { backend: NatBackend; current: NatCurrent },
  proxy: { backend: ProxyBackend; current: ProxyCurrent },
  now: number,
): NodePlan {
  const natPlan = nat.backend.plan(desired, nat.current, now);
  const proxyPlan = proxy.backend.plan(desired, proxy.current, now);
  const node = desired.node;
  return {
    node,
    nat: natPlan,
    proxy: proxyPlan,
    changes: [...natPlan.changes, ...proxyPlan.changes].map((c) => ({ ...c, node })),
    warnings: [...(natPlan.warnings ?? []), ...(proxyPlan.warnings ?? [])].map((w) => `${node}: ${w}`),
  };
}

/**
 * A running VM whose private IP could not be found (agent silent, no earlier
 * record) has no desired entries; planning from that would delete what it
 * has now. Its forwards and routes are held as the node has them instead.
 */
export function holdUnresolved(
  desired: NodeDesired,
  vms: readonly VmConfig[],
  current: { forwards: readonly NatForward[]; routes: Record<"sni" | "http", RouteTable> },
): NodeDesired {
  const forwards = [...desired.forwards];
  const routes = [...desired.routes];
  const taken = new Set([
    ...forwards.map((f) => `${f.proto}/${f.publicPort}`),
    ...routes.map((r) => `${r.kind}:${r.name}`),
  ]);
  for (const vm of vms) {
    for (const f of vm.forward) {
      const key = `${f.proto}/${f.publicPort}`;
      const held = (family: 4 | 6) =>
        current.forwards.find(
          (c) =>
            (c.family ?? 4) === family &&
            c.proto === f.proto &&
            c.publicPort === f.publicPort &&
            c.graceUntil === undefined,
        );
      const now = held(4);
      if (!now || taken.has(key)) continue;
      taken.add(key);
      const now6 = held(6);
      forwards.push({
        vmid: vm.vmid,
        proto: f.proto,
        publicPort: f.publicPort,
        target: now.target,
        targetPort: now.targetPort,
        ...(now6 ? { target6: now6.target } : {}),
      });
    }
    for (const kind of ["sni", "http"] as const) {
      for (const r of vm[kind]) {
        const target = current.routes[kind][r.name];
        const m = target ? /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(target) : null;
        if (!m || taken.has(`${kind}:${r.name}`)) continue;
        taken.add(`${kind}:${r.name}`);
        routes.push({ vmid: vm.vmid, kind, name: r.name, target: m[1]!, targetPort: Number(m[2]) });
      }
    }
  }
  return { ...desired, forwards, routes };
}

export interface DnsPlan {
  changes: Change[];
  /** Names left alone (not ours); not changes. */
  warnings: string[];
}

/** The writes that bring `desired` names to their addresses, from what was read (`current`). */
export function planDns(desired: readonly DnsDesired[], current: ReadonlyMap<string, NameState>): DnsPlan {
  const plan: DnsPlan = { changes: [], warnings: [] };
  for (const d of [...desired].sort((a, b) => a.name.localeCompare(b.name))) {
    const state = current.get(d.name) ?? { exists: false, a: [], aaaa: [], txt: [], owned: false };
    const p = planFromState(d.name, { a: d.a, aaaa: d.aaaa }, state, d.ttl);
    if (p.kind === "unchanged") continue;
    if (p.kind === "not-owned") {
      plan.warnings.push(`${d.name}: exists without our ownership TXT; left alone`);
      continue;
    }
    const after = [...d.a, ...d.aaaa].join(",");
    plan.changes.push(
      p.write.form.kind === "create"
        ? { op: "add", backend: "dns", vmid: d.vmid, key: d.name, after }
        : {
            op: "update",
            backend: "dns",
            vmid: d.vmid,
            key: d.name,
            before: [...state.a, ...state.aaaa].join(","),
            after,
            // A planned move lowers the TTL, the end of its grace restores it: same addresses.
            ...(state.ttl !== undefined && ttlDiffers(state, d.ttl)
              ? { note: `TTL ${state.ttl} -> ${d.ttl}` }
              : {}),
          },
    );
  }
  return plan;
}
