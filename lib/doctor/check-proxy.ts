import { access } from "node:fs/promises";
import type { ProxyConfig } from "../config/types.ts";
import { messageOf } from "../errors.ts";
import { haproxyCommand, SocketUnreachable } from "../proxy/admin-socket.ts";
import { haproxyMapPath } from "../proxy/haproxy-config.ts";
import { ROUTE_KINDS } from "../proxy/routes.ts";
import { type Finding, ok, warn } from "./types.ts";

// HAProxy: the runtime API answers, and the map files its config loads exist
// (HAProxy refuses to start when a map file named in its config is missing).

const SOCKET_TIMEOUT_MS = 3000;

async function checkSocket(proxy: ProxyConfig): Promise<Finding> {
  try {
    const info = await haproxyCommand(proxy.socket, "show info", { timeoutMs: SOCKET_TIMEOUT_MS });
    const version = /^Version:\s*(\S+)/m.exec(info)?.[1];
    if (!version) {
      return warn(
        "proxy",
        `admin socket ${proxy.socket} answered "show info" unexpectedly: ${info.trim().split("\n")[0] ?? ""}`,
        "the socket needs `level admin` (stats socket ... level admin)",
      );
    }
    return ok("proxy", `haproxy ${version} answers on ${proxy.socket}`);
  } catch (err) {
    const down = err instanceof SocketUnreachable;
    return warn(
      "proxy",
      // The message names the socket and the errno (ENOENT: no socket file, ECONNREFUSED: nobody behind it).
      messageOf(err),
      down
        ? "start haproxy, or set proxy.socket to its `stats socket ... level admin` path; routes change only through it"
        : "check haproxy's stats socket configuration",
    );
  }
}

async function checkMapFiles(proxy: ProxyConfig): Promise<Finding> {
  const missing: string[] = [];
  for (const kind of ROUTE_KINDS) {
    const path = haproxyMapPath(proxy.mapDir, kind);
    if (
      !(await access(path).then(
        () => true,
        () => false,
      ))
    )
      missing.push(path);
  }
  if (missing.length === 0) return ok("proxy", `map files present in ${proxy.mapDir}`);
  return warn(
    "proxy",
    `map file(s) missing: ${missing.join(", ")}`,
    "run `pvemigrate-dns reconcile` to write them (haproxy will not start while its config names a missing map)",
  );
}

export async function checkProxy(proxy: ProxyConfig): Promise<Finding[]> {
  if (proxy.backend === "none") return [ok("proxy", "proxy.backend is none: routes are not managed here")];
  if (proxy.backend !== "haproxy")
    return [ok("proxy", `proxy.backend ${proxy.backend}: not checked by doctor`)];
  return Promise.all([checkSocket(proxy), checkMapFiles(proxy)]);
}
