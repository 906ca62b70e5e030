import type { NodeBackend } from "../backend/types.ts";
import { checkHostName, checkIPv4, checkPath, checkPort } from "../backend/validate.ts";
import type { ProxyConfig } from "../config/types.ts";
import type { NodeDesired } from "../desired/types.ts";
import { PeerError } from "../errors.ts";
import { haproxyCommand, parseShowMap, SocketUnreachable, swapMap } from "./admin-socket.ts";
import { readFileOrNull, writeMapFiles } from "./files.ts";
import { haproxyMapPath } from "./haproxy-config.ts";
import { haproxyMapFormat } from "./map-formats.ts";
import { type MapState, type ProxyCurrent, type ProxyPlan, planProxyFor } from "./plan.ts";
import { ROUTE_KINDS, type RouteKind, type RouteSpec, routeSpec } from "./routes.ts";

// HAProxy backend: the map files persist routes across restarts, the admin
// socket changes the running process without a reload (so open connections
// and the pid survive a VM move).

export type ProxyBackend = NodeBackend<RouteSpec, ProxyCurrent, ProxyPlan>;

export { haproxyMapFormat };

export function createHaproxyBackend(opts: { proxy: ProxyConfig }): ProxyBackend {
  const socket = checkPath("proxy.socket", opts.proxy.socket);
  const mapDir = checkPath("proxy.mapDir", opts.proxy.mapDir);
  const pathOf = (kind: RouteKind) => haproxyMapPath(mapDir, kind);

  async function readMap(kind: RouteKind): Promise<MapState> {
    const path = pathOf(kind);
    const fileText = await readFileOrNull(path);
    let shown: string;
    try {
      shown = await haproxyCommand(socket, `show map ${path}`);
    } catch (err) {
      // HAProxy is not running: the files are what it loads when it starts,
      // so converge them (and let NAT converge) instead of failing the node.
      if (err instanceof SocketUnreachable) return { path, fileText, runtime: null };
      throw err;
    }
    if (/Unknown map identifier/.test(shown)) {
      throw new PeerError(
        `haproxy has no map ${path}: is the pvemigrate-dns frontend (renderHaproxyConfig) loaded?`,
      );
    }
    return {
      path,
      fileText,
      runtime: parseShowMap(shown).size === 0 ? {} : Object.fromEntries(parseShowMap(shown)),
    };
  }

  return {
    render: (desired: NodeDesired, now: number) => routeSpec(desired, now),
    async read() {
      const [sni, http] = await Promise.all([readMap("sni"), readMap("http")]);
      return { backend: "haproxy", maps: { sni, http } };
    },
    plan: (desired, current, now) => planProxyFor(opts.proxy, desired, current, now),
    async apply(plan) {
      const known = ROUTE_KINDS.map(pathOf);
      // File first: if the swap fails, a restart still loads the right routes.
      await writeMapFiles(plan.files, known);
      for (const s of plan.swaps) {
        if (!known.includes(s.path))
          throw new PeerError(`plan swaps ${s.path}, not one of this backend's maps`);
        // Plans are plain data (they may have been printed and read back): check
        // again that every key and value is harmless on the socket's command line.
        for (const [name, target] of Object.entries(s.entries))
          checkTarget(`${s.kind} ${name}`, name, target);
        await swapMap(socket, s.path, new Map(Object.entries(s.entries)));
      }
    },
  };
}

function checkTarget(field: string, name: string, target: string): void {
  checkHostName(field, name);
  const [ip, port, extra] = target.split(":");
  if (extra !== undefined || !/^[0-9]{1,5}$/.test(port ?? ""))
    throw new PeerError(`${field}: target must be ip:port`);
  checkIPv4(field, ip);
  checkPort(field, Number(port));
}
