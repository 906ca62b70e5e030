import { chooseLiveOverGrace, graceEnd, graceNote } from "../backend/grace.ts";
import { checkHostName, checkIPv4, checkPort } from "../backend/validate.ts";
import type { NodeDesired } from "../desired/types.ts";
import { InputError } from "../errors.ts";

// PURE: NodeDesired -> the validated name -> "ip:port" tables of the node's
// proxy at a given moment. Grace routes that ended are dropped (HAProxy maps
// have no timeouts: the reconcile enforces the end of grace). A proxy's own
// connection returns to it, so grace routes need nothing else.

export type RouteKind = "sni" | "http";
export const ROUTE_KINDS: readonly RouteKind[] = ["sni", "http"];

export interface RouteEntry {
  name: string;
  /** "10.10.1.101:443" */
  target: string;
  vmid?: number;
  graceUntil?: number;
}

export type RouteSpec = Record<RouteKind, RouteEntry[]>;

/** How a route's target is spelled in the proxy's maps: "10.10.1.101:443". */
export const routeTarget = (ip: string, port: number): string => `${ip}:${port}`;

/** A target read back from a map: its IPv4 address and port; undefined when it is spelled otherwise. */
export function parseRouteTarget(target: string): { ip: string; port: number } | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(target);
  return m ? { ip: m[1]!, port: Number(m[2]) } : undefined;
}

export function routeSpec(desired: NodeDesired, now: number): RouteSpec {
  const chosen: Record<RouteKind, Map<string, RouteEntry>> = { sni: new Map(), http: new Map() };
  desired.routes.forEach((r, i) => {
    const field = `routes[${i}]`;
    if (r.kind !== "sni" && r.kind !== "http") {
      throw new InputError(`${field}.kind: must be sni or http (got ${JSON.stringify(r.kind)})`);
    }
    const entry: RouteEntry = {
      name: checkHostName(`${field}.name`, r.name),
      target: routeTarget(
        checkIPv4(`${field}.target`, r.target),
        checkPort(`${field}.targetPort`, r.targetPort),
      ),
      vmid: r.vmid,
    };
    const grace = graceEnd(field, r.graceUntil, now);
    if (grace === "ended") return;
    if (grace !== undefined) entry.graceUntil = grace;
    chooseLiveOverGrace(
      chosen[r.kind],
      entry.name,
      entry,
      (other) =>
        `${field}: ${r.kind} name ${entry.name} is routed twice (vm ${other.vmid} and vm ${entry.vmid})`,
    );
  });
  const sorted = (m: Map<string, RouteEntry>) => [...m.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  return { sni: sorted(chosen.sni), http: sorted(chosen.http) };
}

/** Where a route points: "10.10.1.101:443 (vm 101) [grace, 30s left]". */
export function describeRouteTarget(e: RouteEntry, now: number): string {
  const vm = e.vmid === undefined ? "" : ` (vm ${e.vmid})`;
  return `${e.target}${vm}${graceNote(e.graceUntil, now)}`;
}

export function describeRoute(kind: RouteKind, e: RouteEntry, now: number): string {
  return `${kind} ${e.name} -> ${describeRouteTarget(e, now)}`;
}
