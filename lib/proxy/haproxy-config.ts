import { checkIPv4, checkIPv6, checkPath, checkPort } from "../backend/validate.ts";
import { mapPath } from "./map-formats.ts";

// PURE: the HAProxy configuration an admin includes (or runs as is): one TCP
// frontend routing TLS by SNI and one HTTP frontend routing by Host, both
// through a map to "ip:port" and `set-dst`/`set-dst-port` toward a single
// `server dyn 0.0.0.0:0`, so a VM needs no backend of its own and routes
// change at run time through the admin socket without a reload.

export interface HaproxyConfigOptions {
  /** Admin socket (stats socket ... level admin) the backend talks to. */
  socket: string;
  mapDir: string;
  httpsPort: number;
  httpPort: number;
  /** Send a PROXY protocol v2 header to the VM, so it sees the client's address. */
  proxyProtocol: boolean;
  /** IPv4 address to bind on; default all addresses. */
  bindAddress?: string;
  /**
   * Also listen on IPv6 (default true): a node with a public IPv6 gets AAAA
   * records, and IPv6 clients must find :443/:80 open there too. The routes
   * still lead to the VMs' IPv4 addresses. false only for hosts booted
   * without IPv6, where HAProxy could not bind `::`.
   */
  ipv6?: boolean;
  /** IPv6 address to bind on; default all addresses. */
  bindAddress6?: string;
  /** Include `global` and `defaults` sections (default true); false renders only the frontends/backends. */
  standalone?: boolean;
}

/** Where HAProxy's map of `kind` lives (the same layout as nginx's: map-formats.ts). */
export const haproxyMapPath = mapPath;

export function renderHaproxyConfig(opts: HaproxyConfigOptions): string {
  const socket = checkPath("proxy.socket", opts.socket);
  const mapDir = checkPath("proxy.mapDir", opts.mapDir);
  const https = checkPort("proxy.httpsPort", opts.httpsPort);
  const http = checkPort("proxy.httpPort", opts.httpPort);
  const bind = opts.bindAddress ?? "";
  if (bind !== "") checkIPv4("bindAddress", bind);
  const bind6 = opts.bindAddress6 === undefined ? "::" : checkIPv6("bindAddress6", opts.bindAddress6);
  // One socket per family: `v6only` keeps the IPv4 bind the one that takes IPv4.
  const binds = (port: number) => [
    `\tbind ${bind}:${port}`,
    ...((opts.ipv6 ?? true) ? [`\tbind ${bind6}:${port} v6only`] : []),
  ];
  const server = `server dyn 0.0.0.0:0${opts.proxyProtocol ? " send-proxy-v2" : ""}`;
  const sniMap = haproxyMapPath(mapDir, "sni");
  const httpMap = haproxyMapPath(mapDir, "http");
  const lines: string[] = [];
  const standalone = opts.standalone ?? true;
  if (standalone) {
    lines.push(
      "global",
      `\tstats socket ${socket} mode 600 level admin`,
      "",
      "defaults",
      "\ttimeout connect 5s",
      "\ttimeout client 1m",
      "\ttimeout server 1m",
      "\ttimeout http-request 10s",
      "",
    );
  }
  lines.push(
    "# pvemigrate-dns: TLS routed by SNI, without terminating it.",
    "frontend pvemigrate_sni",
    "\tmode tcp",
    // Included in the admin's haproxy.cfg, this overrides an `option httplog` in
    // its defaults (Debian's has one), which HAProxy warns about on a TCP
    // frontend at every reload. Standalone, there is no log address to use it.
    ...(standalone ? [] : ["\toption tcplog"]),
    ...binds(https),
    "\ttcp-request inspect-delay 5s",
    // An ACL on data not fully received yet makes HAProxy wait (up to the
    // inspect delay); the set-var below would not wait, so these come first.
    "\ttcp-request content reject unless { req.ssl_hello_type 1 }",
    "\ttcp-request content reject unless { req.ssl_sni -m found }",
    `\ttcp-request content set-var(txn.pvm_dst) req.ssl_sni,lower,map(${sniMap})`,
    "\ttcp-request content reject unless { var(txn.pvm_dst) -m found }",
    "\ttcp-request content set-dst var(txn.pvm_dst),field(1,:)",
    "\ttcp-request content set-dst-port var(txn.pvm_dst),field(2,:)",
    "\tdefault_backend pvemigrate_sni_dyn",
    "",
    "backend pvemigrate_sni_dyn",
    "\tmode tcp",
    `\t${server}`,
    "",
    "# pvemigrate-dns: plain HTTP routed by Host (ACME HTTP-01 keeps working).",
    "frontend pvemigrate_http",
    "\tmode http",
    ...binds(http),
    "\toption forwardfor",
    // The Host header may carry a port: route on the name only.
    `\thttp-request set-var(txn.pvm_dst) req.hdr(host),field(1,:),lower,map(${httpMap})`,
    "\thttp-request deny deny_status 404 unless { var(txn.pvm_dst) -m found }",
    "\thttp-request set-dst var(txn.pvm_dst),field(1,:)",
    "\thttp-request set-dst-port var(txn.pvm_dst),field(2,:)",
    "\tdefault_backend pvemigrate_http_dyn",
    "",
    "backend pvemigrate_http_dyn",
    "\tmode http",
    // A server connection must never be reused for a request routed elsewhere.
    "\thttp-reuse never",
    `\t${server}`,
    "",
  );
  return lines.join("\n");
}
