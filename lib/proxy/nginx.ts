import { checkPath, checkPort } from "../backend/validate.ts";
import type { ProxyConfig } from "../config/types.ts";
import type { NodeDesired } from "../desired/types.ts";
import { PeerError } from "../errors.ts";
import type { Exec } from "../process/run.ts";
import { readFileOrNull, writeMapFiles } from "./files.ts";
import type { ProxyBackend } from "./haproxy.ts";
import { mapPath, nginxMapFormat } from "./map-formats.ts";
import { type MapState, planProxyFor } from "./plan.ts";
import { ROUTE_KINDS, type RouteKind, routeSpec } from "./routes.ts";

// nginx backend, for nodes that already run nginx: the same routes as
// `map` include files (stream `ssl_preread` for SNI, http `$host` for Host),
// written atomically, then `nginx -s reload` (nginx has no runtime API for
// maps; a reload is graceful: old workers finish their connections).

export interface NginxConfigOptions {
  mapDir: string;
  httpsPort: number;
  httpPort: number;
  proxyProtocol: boolean;
  /** Also listen on IPv6 (default true; nginx's `[::]` listens on IPv6 only). */
  ipv6?: boolean;
}

export const nginxMapPath = mapPath;
export { nginxMapFormat };

/**
 * The `stream { }` and `http { }` pieces an admin adds to nginx.conf. An
 * unknown SNI maps to "" and nginx closes the connection; an unknown Host gets 404.
 */
export function renderNginxConfig(opts: NginxConfigOptions): { stream: string; http: string } {
  const mapDir = checkPath("proxy.mapDir", opts.mapDir);
  const https = checkPort("proxy.httpsPort", opts.httpsPort);
  const http = checkPort("proxy.httpPort", opts.httpPort);
  const listen = (port: number) => [
    `\tlisten ${port};`,
    ...((opts.ipv6 ?? true) ? [`\tlisten [::]:${port};`] : []),
  ];
  const stream = [
    "# pvemigrate-dns: inside stream { }",
    "map $ssl_preread_server_name $pvemigrate_sni {",
    `\tinclude ${nginxMapPath(mapDir, "sni")};`,
    '\tdefault "";',
    "}",
    "server {",
    ...listen(https),
    "\tssl_preread on;",
    "\tproxy_pass $pvemigrate_sni;",
    ...(opts.proxyProtocol ? ["\tproxy_protocol on;"] : []),
    "}",
    "",
  ].join("\n");
  const httpBlock = [
    "# pvemigrate-dns: inside http { }",
    "map $host $pvemigrate_http {",
    `\tinclude ${nginxMapPath(mapDir, "http")};`,
    '\tdefault "";',
    "}",
    "server {",
    // nginx's http proxy cannot send a PROXY header: the VM gets X-Forwarded-For instead.
    ...listen(http),
    '\tif ($pvemigrate_http = "") { return 404; }',
    "\tlocation / {",
    "\t\tproxy_pass http://$pvemigrate_http;",
    "\t\tproxy_set_header Host $host;",
    "\t\tproxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
    "\t}",
    "}",
    "",
  ].join("\n");
  return { stream, http: httpBlock };
}

export function createNginxBackend(opts: { proxy: ProxyConfig; exec: Exec }): ProxyBackend {
  const mapDir = checkPath("proxy.mapDir", opts.proxy.mapDir);
  const pathOf = (kind: RouteKind) => nginxMapPath(mapDir, kind);
  const readMap = async (kind: RouteKind): Promise<MapState> => ({
    path: pathOf(kind),
    fileText: await readFileOrNull(pathOf(kind)),
    runtime: null,
  });
  return {
    render: (desired: NodeDesired, now: number) => routeSpec(desired, now),
    async read() {
      return { backend: "nginx", maps: { sni: await readMap("sni"), http: await readMap("http") } };
    },
    plan: (desired, current, now) => planProxyFor(opts.proxy, desired, current, now),
    async apply(plan) {
      await writeMapFiles(plan.files, ROUTE_KINDS.map(pathOf));
      if (!plan.reload) return;
      const r = await opts.exec(["nginx", "-s", "reload"], { timeoutMs: 15_000 });
      if (r.code !== 0)
        throw new PeerError(`nginx -s reload failed: ${r.stderr.trim().split("\n")[0] ?? `exit ${r.code}`}`);
    },
  };
}
