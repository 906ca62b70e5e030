import type { NatConfig, ProxyConfig, VmConfig } from "../config/types.ts";
import { forwardKey, routeKey } from "../desired/keys.ts";
import type { NodeDesired } from "../desired/types.ts";
import type { NatCurrent } from "../nat/parse.ts";
import { type NatPlan, planNatFor } from "../nat/plan.ts";
import type { NatForward } from "../nat/spec.ts";
import { type ProxyCurrent, type ProxyPlan, planProxyFor, type RouteTable } from "../proxy/plan.ts";
import { parseRouteTarget } from "../proxy/routes.ts";
import type { Change } from "./types.ts";

// PURE: the difference between what should be (lib/desired) and what is (read
// back from nft, HAProxy, the DNS master), as one printable, JSON-able plan.
// Identical input gives an identical plan; applying an empty plan is a no-op.
// Each backend knows its own diff (lib/nat/plan.ts, lib/proxy/plan.ts,
// lib/plan/dns.ts); this module puts a node's side by side. Plain data in,
// plain data out: no backend object, no I/O.

export interface NodePlan {
  node: string;
  nat: NatPlan;
  proxy: ProxyPlan;
  /** Both backends' changes, each naming this node; empty when the node already matches. */
  changes: Change[];
  /** What a backend can only do in part (an unreachable admin socket); not changes. */
  warnings: string[];
}

/** What a node holds now, as its backends read it back. */
export interface NodeCurrent {
  nat: NatCurrent;
  proxy: ProxyCurrent;
}

/** The settings that decide how a node's backends spell the desired state. */
export interface NodeSettings {
  nat: Pick<NatConfig, "backend" | "table">;
  proxy: Pick<ProxyConfig, "backend" | "socket">;
}

export function planNode(
  desired: NodeDesired,
  current: NodeCurrent,
  settings: NodeSettings,
  now: number,
): NodePlan {
  const natPlan = planNatFor(settings.nat, desired, current.nat, now);
  const proxyPlan = planProxyFor(settings.proxy, desired, current.proxy, now);
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
  const taken = new Set([...forwards.map(forwardKey), ...routes.map(routeKey)]);
  for (const vm of vms) {
    for (const f of vm.forward) {
      const key = forwardKey(f);
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
        const key = routeKey({ kind, name: r.name });
        const target = current.routes[kind][r.name];
        const there = target === undefined ? undefined : parseRouteTarget(target);
        if (!there || taken.has(key)) continue;
        taken.add(key);
        routes.push({ vmid: vm.vmid, kind, name: r.name, target: there.ip, targetPort: there.port });
      }
    }
  }
  return { ...desired, forwards, routes };
}

export { type DnsPlan, type DnsPlanSettings, type DnsWant, type NameRead, planDns } from "./dns.ts";
