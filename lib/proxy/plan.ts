import type { BackendPlan } from "../backend/types.ts";
import type { ProxyConfig } from "../config/types.ts";
import { routeKey } from "../desired/keys.ts";
import type { NodeDesired } from "../desired/types.ts";
import type { Change } from "../plan/types.ts";
import { haproxyMapFormat, type MapFormat, nginxMapFormat, type RouteTable } from "./map-formats.ts";
import {
  describeRouteTarget,
  ROUTE_KINDS,
  type RouteEntry,
  type RouteKind,
  type RouteSpec,
  routeSpec,
} from "./routes.ts";

export type { MapFormat, RouteTable } from "./map-formats.ts";

// PURE: desired routes vs. what the proxy holds -> printable changes, the map
// files to (re)write and, for HAProxy, the maps to swap at run time.

export interface MapState {
  path: string;
  /** The map file's text on disk; null when it does not exist. */
  fileText: string | null;
  /** What the running proxy serves (HAProxy `show map`); null for proxies without a runtime API. */
  runtime: RouteTable | null;
}

export interface ProxyCurrent {
  backend: "haproxy" | "nginx" | "none";
  maps: Record<RouteKind, MapState>;
}

export interface ProxyPlan extends BackendPlan {
  backend: "haproxy" | "nginx" | "none";
  /** Files to write atomically (temp + rename). */
  files: { path: string; content: string }[];
  /** HAProxy maps to replace at run time (prepare/add/commit). */
  swaps: { kind: RouteKind; path: string; entries: RouteTable }[];
  /** nginx: reload after writing files. */
  reload: boolean;
}

export function toTable(entries: readonly RouteEntry[]): RouteTable {
  return Object.fromEntries(entries.map((e) => [e.name, e.target]));
}

function diffRoutes(kind: RouteKind, want: readonly RouteEntry[], have: RouteTable, now: number): Change[] {
  const changes: Change[] = [];
  const left = new Map(Object.entries(have));
  for (const e of want) {
    const old = left.get(e.name);
    left.delete(e.name);
    const change = {
      backend: "proxy",
      ...(e.vmid === undefined ? {} : { vmid: e.vmid }),
      key: routeKey({ kind, name: e.name }),
      after: describeRouteTarget(e, now),
    } as const;
    if (old === undefined) changes.push({ op: "add", ...change });
    else if (old !== e.target) changes.push({ op: "update", ...change, before: old });
  }
  for (const [name, target] of left)
    changes.push({ op: "remove", backend: "proxy", key: routeKey({ kind, name }), before: target });
  return changes;
}

export function planProxy(
  backend: "haproxy" | "nginx",
  spec: RouteSpec,
  current: ProxyCurrent,
  format: MapFormat,
  now: number,
): ProxyPlan {
  const plan: ProxyPlan = { backend, changes: [], files: [], swaps: [], reload: false };
  for (const kind of ROUTE_KINDS) {
    const state = current.maps[kind];
    const content = format.render(kind, spec[kind]);
    const fileStale = state.fileText !== content;
    // What traffic sees: the runtime map when there is one, else the file the proxy loaded.
    const serving = state.runtime ?? (state.fileText === null ? {} : format.parse(state.fileText));
    const lines = diffRoutes(kind, spec[kind], serving, now);
    plan.changes.push(...lines);
    if (fileStale) {
      plan.files.push({ path: state.path, content });
      if (lines.length === 0)
        plan.changes.push({
          op: "update",
          backend: "proxy",
          key: `write ${state.path}`,
          note: `${kind} map file out of date`,
        });
    }
    if (lines.length > 0 && state.runtime !== null) {
      plan.swaps.push({ kind, path: state.path, entries: toTable(spec[kind]) });
    }
    if (lines.length > 0 && state.runtime === null) plan.reload = true;
  }
  return plan;
}

/**
 * The proxy's plan from plain data: the `proxy` settings, the node's desired
 * routes and what the proxy holds (its backend's read()). Bad input (a
 * hostile name or target) fails here, whatever the backend, before anything
 * is applied.
 */
export function planProxyFor(
  proxy: Pick<ProxyConfig, "backend" | "socket">,
  desired: NodeDesired,
  current: ProxyCurrent,
  now: number,
): ProxyPlan {
  const spec = routeSpec(desired, now);
  if (proxy.backend === "none") return { backend: "none", changes: [], files: [], swaps: [], reload: false };
  if (proxy.backend === "nginx") return planProxy("nginx", spec, current, nginxMapFormat, now);
  const plan = planProxy("haproxy", spec, current, haproxyMapFormat, now);
  const down = ROUTE_KINDS.some((k) => current.maps[k].runtime === null);
  if (down && plan.files.length > 0) {
    plan.warnings = [
      ...(plan.warnings ?? []),
      `haproxy admin socket ${proxy.socket} not reachable: map files only (loaded when HAProxy starts)`,
    ];
  }
  // HAProxy takes route changes through its socket (or its files at start), never a reload.
  return { ...plan, reload: false };
}
