import type { ProxyConfig } from "../config/types.ts";
import { InputError } from "../errors.ts";
import { haproxyMapPath, renderHaproxyConfig } from "./haproxy-config.ts";
import { nginxMapPath, renderNginxConfig } from "./nginx.ts";

// PURE: what `pvemigrate-dns proxy config` prints: the proxy configuration a
// node's HAProxy (or nginx) needs for pvemigrate-dns's routes, headed by the
// few facts an admin needs to include it (the admin socket, the map files).

export interface ProxyConfigRequest {
  /** The node it is for: its name may be part of proxy.socket/mapDir ("{node}"). */
  node: string;
  /** The proxy's settings with "{node}" already replaced (config/for-node.ts). */
  proxy: ProxyConfig;
  nginx: boolean;
  /** HAProxy: a whole haproxy.cfg (global + defaults) instead of a fragment to include. */
  standalone: boolean;
}

export type ProxyConfigText =
  | {
      backend: "haproxy";
      node: string;
      standalone: boolean;
      socket: string;
      maps: { sni: string; http: string };
      text: string;
    }
  | {
      backend: "nginx";
      node: string;
      maps: { sni: string; http: string };
      stream: string;
      http: string;
      text: string;
    };

export function proxyConfigText(req: ProxyConfigRequest): ProxyConfigText {
  const { proxy, node } = req;
  const nginx = req.nginx || proxy.backend === "nginx";
  if (nginx && req.standalone)
    throw new InputError("--standalone: only for HAProxy (nginx takes two blocks)");
  const settings = {
    mapDir: proxy.mapDir,
    httpsPort: proxy.httpsPort,
    httpPort: proxy.httpPort,
    proxyProtocol: proxy.proxyProtocol,
  };
  if (nginx) {
    const maps = { sni: nginxMapPath(proxy.mapDir, "sni"), http: nginxMapPath(proxy.mapDir, "http") };
    const { stream, http } = renderNginxConfig(settings);
    const head = [
      `# pvemigrate-dns: SNI/Host routes of node ${node} for nginx; the first block goes inside`,
      "# stream { } (module ngx_stream_ssl_preread), the second inside http { }. pvemigrate-dns",
      "# writes the map files, then runs nginx -s reload:",
      `#   ${maps.sni}`,
      `#   ${maps.http}`,
      "",
    ];
    return { backend: "nginx", node, maps, stream, http, text: [...head, stream, http].join("\n") };
  }
  const maps = { sni: haproxyMapPath(proxy.mapDir, "sni"), http: haproxyMapPath(proxy.mapDir, "http") };
  const body = renderHaproxyConfig({ ...settings, socket: proxy.socket, standalone: req.standalone });
  const head = req.standalone
    ? [`# pvemigrate-dns: a whole haproxy.cfg for node ${node}, serving only pvemigrate-dns's routes.`]
    : [
        `# pvemigrate-dns: SNI/Host routes of node ${node}, to load after haproxy.cfg`,
        `# (haproxy -f /etc/haproxy/haproxy.cfg -f <this file>). haproxy.cfg's global section must hold`,
        `#   stats socket ${proxy.socket} level admin`,
        "# and its defaults section timeouts (connect, client, server) and a log address, as Debian's",
        "# haproxy.cfg has.",
      ];
  head.push(
    "# pvemigrate-dns keeps the routes in two map files: it changes the running HAProxy through",
    "# the admin socket and writes the files, which a reload or restart loads again:",
    `#   ${maps.sni}`,
    `#   ${maps.http}`,
    "",
  );
  return {
    backend: "haproxy",
    node,
    standalone: req.standalone,
    socket: proxy.socket,
    maps,
    text: [...head, body].join("\n"),
  };
}
