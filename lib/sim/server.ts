import http from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { SimError } from "./errors.ts";
import { route } from "./routes.ts";
import type { SimRequest, SimState } from "./state.ts";

// The simulated cluster's HTTP side: one real listener per node on 127.0.0.1
// (port 0), speaking the API's framing ({data}, application/json;charset=UTF-8,
// the reason phrase in the status line, 401 `authentication failure`), with
// injectable faults. A node that goes offline stops listening.

export interface SimFault {
  /** Only this method; every method when unset. */
  method?: string;
  path: RegExp;
  status: number;
  reason: string;
  /** How many requests it applies to; default 1 (Infinity: until clearFaults). */
  times?: number;
  /** Only requests to this node's endpoint (the fault matrix's "first endpoint fails"). */
  via?: string;
  /** Never answer (a hung pveproxy): the client's request timeout is what ends the request. */
  hang?: boolean;
}

export interface SimServersOptions {
  state: SimState;
  nodes: string[];
  expectedAuth: string;
  tokenId: string;
  faults: SimFault[];
  tls?: { key: string; cert: string };
  authFailureDelayMs: number;
}

export interface SimServers {
  urls: Record<string, string>;
  setNodeOnline(node: string, online: boolean): Promise<void>;
  stop(): Promise<void>;
}

function listen(server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function parseBody(raw: string, contentType: string | undefined): Record<string, string> {
  if (!raw) return {};
  if (contentType?.startsWith("application/json")) {
    const parsed = JSON.parse(raw) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

export async function startSimServers(o: SimServersOptions): Promise<SimServers> {
  const { state, expectedAuth, tokenId, faults } = o;
  function reply(res: http.ServerResponse, status: number, reason: string, payload: unknown) {
    const body = JSON.stringify(payload);
    res.writeHead(status, reason.replace(/[^\t\x20-\x7e]/g, "?"), {
      "content-type": "application/json;charset=UTF-8",
      "content-length": Buffer.byteLength(body),
    });
    res.end(body);
  }

  function handler(via: string) {
    return (req: http.IncomingMessage, res: http.ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const url = new URL(req.url ?? "/", "http://sim");
        const method = req.method ?? "GET";
        const record: SimRequest = { method, path: url.pathname, via, status: 200 };
        state.requests.push(record);
        const send = (status: number, reason: string, payload: unknown) => {
          record.status = status;
          reply(res, status, reason, payload);
        };
        try {
          const body = parseBody(Buffer.concat(chunks).toString("utf8"), req.headers["content-type"]);
          if (method !== "GET") record.body = body;
          if (req.headers.authorization !== expectedAuth) {
            const delay = o.authFailureDelayMs;
            if (delay > 0) state.after(delay, () => send(401, "authentication failure", { data: null }));
            else send(401, "authentication failure", { data: null });
            return;
          }
          const fault = faults.find(
            (f) =>
              (f.method === undefined || f.method === method) &&
              (f.via === undefined || f.via === via) &&
              f.path.test(url.pathname),
          );
          if (fault) {
            fault.times = (fault.times ?? 1) - 1;
            if (fault.times <= 0) faults.splice(faults.indexOf(fault), 1);
            if (!fault.hang) send(fault.status, fault.reason, { data: null });
            return;
          }
          if (!url.pathname.startsWith("/api2/json/")) {
            send(404, "Not Found", { data: null });
            return;
          }
          const segments = url.pathname
            .slice("/api2/json/".length)
            .split("/")
            .filter(Boolean)
            .map(decodeURIComponent);
          const data = route(state, {
            method,
            segments,
            query: url.searchParams,
            body,
            via,
            user: tokenId,
          });
          send(200, "OK", { data });
        } catch (err) {
          if (err instanceof SimError) {
            send(err.status, err.message, { data: null, ...(err.errors ? { errors: err.errors } : {}) });
          } else {
            send(500, err instanceof Error ? err.message : String(err), { data: null });
          }
        }
      });
    };
  }

  const servers = new Map<string, { server: http.Server; port: number; sockets: Set<Socket> }>();
  const urls: Record<string, string> = {};
  for (const name of o.nodes) {
    const server = o.tls ? https.createServer({ key: o.tls.key, cert: o.tls.cert }) : http.createServer();
    server.on("request", handler(name));
    const sockets = new Set<Socket>();
    server.on("connection", (s: Socket) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    });
    const port = await listen(server, 0);
    urls[name] = `${o.tls ? "https" : "http"}://127.0.0.1:${port}`;
    servers.set(name, { server, port, sockets });
  }

  async function setNodeOnline(node: string, online: boolean): Promise<void> {
    const n = state.node(node);
    const entry = servers.get(node)!;
    if (n.online === online) return;
    n.online = online;
    if (online) {
      await listen(entry.server, entry.port);
    } else {
      // A node that is down has no pveproxy: its port refuses connections.
      for (const s of entry.sockets) s.destroy();
      await new Promise<void>((resolve) => entry.server.close(() => resolve()));
    }
  }

  return {
    urls,
    setNodeOnline,
    stop: async () => {
      await Promise.all(
        [...servers.values()].map(({ server, sockets }) => {
          for (const s of sockets) s.destroy();
          return new Promise<void>((resolve) =>
            server.listening ? server.close(() => resolve()) : resolve(),
          );
        }),
      );
    },
  };
}
