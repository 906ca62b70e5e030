import type { ProxyConfig } from "../config/types.ts";
import type { Exec } from "../process/run.ts";
import { createHaproxyBackend, type ProxyBackend } from "./haproxy.ts";
import { haproxyMapFormat, nginxMapFormat } from "./map-formats.ts";
import { createNginxBackend } from "./nginx.ts";
import { type ProxyCurrent, planProxyFor, type RouteTable } from "./plan.ts";
import type { RouteKind } from "./routes.ts";
import { routeSpec } from "./routes.ts";

// The proxy backend chosen by `proxy.backend`. All three have one shape, so
// the orchestrator converges them without knowing which one runs.

export type { ProxyBackend } from "./haproxy.ts";
export type { ProxyCurrent, ProxyPlan } from "./plan.ts";

export function createProxyBackend(opts: { proxy: ProxyConfig; exec: Exec }): ProxyBackend {
  switch (opts.proxy.backend) {
    case "haproxy":
      return createHaproxyBackend(opts);
    case "nginx":
      return createNginxBackend(opts);
    case "none":
      return noProxy(opts.proxy);
  }
}

/** proxy.backend "none": routes are validated (bad input still fails) but nothing is touched. */
function noProxy(proxy: ProxyConfig): ProxyBackend {
  const empty = { path: proxy.mapDir, fileText: null, runtime: null };
  return {
    render: (desired, now) => routeSpec(desired, now),
    read: async () => ({ backend: "none", maps: { sni: empty, http: empty } }),
    plan: (desired, current, now) => planProxyFor(proxy, desired, current, now),
    apply: async () => {},
  };
}

// What an admin includes in HAProxy's or nginx's configuration (the `config`
// CLI can print these).
export { type HaproxyConfigOptions, renderHaproxyConfig } from "./haproxy-config.ts";
export { type NginxConfigOptions, renderNginxConfig } from "./nginx.ts";

/** What the proxy serves now, per kind: the runtime map when there is one, else the map file. */
export function servingRoutes(current: ProxyCurrent): Record<RouteKind, RouteTable> {
  const format = current.backend === "nginx" ? nginxMapFormat : haproxyMapFormat;
  const serving = (kind: RouteKind): RouteTable => {
    const state = current.maps[kind];
    return state.runtime ?? (state.fileText === null ? {} : format.parse(state.fileText));
  };
  return { sni: serving("sni"), http: serving("http") };
}
