import http from "node:http";
import https from "node:https";
import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";

// A fetch of our own on node:http(s), handed to proxmox-api instead of its
// bundled undici fetch, because:
// - TLS is verified per connection against a pinned CA or a pinned certificate
//   fingerprint, never by turning verification off process-wide (Node's global
//   fetch would need an undici dispatcher for that, and undici is not our dependency);
// - the connect phase (TCP + TLS handshake) has its own timeout, so a dead
//   endpoint costs one connect timeout and we can tell "never sent" from "sent";
// - nock intercepts node:http(s), so error paths are unit-testable.
// Verification happens in the agent's createConnection, BEFORE the request (and
// its Authorization header) is written to the socket.

export interface PinnedFetchOptions {
  /**
   * PEM of the CA(s) the API certificate must chain to (pve-root-ca.pem). Unset:
   * the CAs Node trusts by default (its Mozilla bundle, NODE_EXTRA_CA_CERTS, the
   * OpenSSL store with --use-openssl-ca): "system" for a public (ACME) certificate.
   */
  caPem?: string | string[];
  /** SHA-256 fingerprint "AA:BB:..." the API certificate must have; replaces CA verification. */
  fingerprint?: string;
  /**
   * The name the certificate must carry, also sent as SNI; default the URL's
   * host. A custom or ACME certificate names the node (pve1.example.org) while
   * the endpoint may be an address (https://127.0.0.1:8006).
   */
  serverName?: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

export interface FetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export type FetchLike = (url: string | URL, init?: FetchInit) => Promise<Response>;

/**
 * A request failed. `sent` is false when it failed before a byte of the request
 * left (refused, connect timeout, TLS verification): then another endpoint may
 * be tried even for a POST.
 */
export class TransportError extends Error {
  override name = "TransportError";
  constructor(
    message: string,
    readonly sent: boolean,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Error codes that can only happen before the request was written. */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EADDRNOTAVAIL",
]);

export function normalizeFingerprint(fp: string): string {
  const hex = fp.replace(/[^0-9a-fA-F]/g, "").toUpperCase();
  return hex.match(/../g)?.join(":") ?? "";
}

function describeNetError(err: unknown): { message: string; code?: string } {
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === "string" ? e.code : undefined;
  const message = err instanceof Error ? err.message : String(err);
  return code ? { message, code } : { message };
}

type Oncreate = (err: Error | null, socket?: Duplex) => void;

/**
 * Connects (TCP, then TLS for https), verifies the peer, and only then hands the
 * socket to http.request. Returning undefined tells http.Agent the socket comes
 * through the callback.
 */
function connectVerified(
  opts: PinnedFetchOptions,
  secure: boolean,
  target: { host: string; port: number },
  done: Oncreate,
): void {
  let finished = false;
  const finish = (err: Error | null, socket?: Duplex) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    if (err) {
      socket?.destroy();
      done(err);
    } else done(null, socket);
  };
  const pinned = opts.fingerprint ? normalizeFingerprint(opts.fingerprint) : undefined;
  let socket: net.Socket;
  if (secure) {
    const tlsOpts: tls.ConnectionOptions = { host: target.host, port: target.port };
    // Node checks the certificate against servername when set, else against host.
    if (opts.serverName) tlsOpts.servername = opts.serverName;
    else if (!net.isIP(target.host)) tlsOpts.servername = target.host;
    if (pinned) {
      // The fingerprint IS the trust anchor: chain and name checks are replaced
      // by comparing the certificate's SHA-256, for this one connection only.
      tlsOpts.rejectUnauthorized = false;
    } else {
      tlsOpts.rejectUnauthorized = true;
      if (opts.caPem) tlsOpts.ca = opts.caPem;
    }
    const s = tls.connect(tlsOpts);
    s.once("secureConnect", () => {
      if (pinned) {
        const got = s.getPeerCertificate().fingerprint256 ?? "";
        if (got.toUpperCase() !== pinned) {
          finish(
            new TransportError(
              `certificate fingerprint ${got || "(none)"} is not the pinned ${pinned}`,
              false,
            ),
            s,
          );
          return;
        }
      }
      finish(null, s);
    });
    socket = s;
  } else {
    socket = net.connect({ host: target.host, port: target.port });
    socket.once("connect", () => finish(null, socket));
  }
  socket.once("error", (err) => {
    const { message, code } = describeNetError(err);
    // OpenSSL's verify codes (UNABLE_TO_VERIFY_LEAF_SIGNATURE...) and Node's name check (ERR_TLS_CERT_ALTNAME_INVALID).
    const tlsProblem = secure && (!code?.startsWith("E") || /^ERR_(TLS|SSL)_/.test(code));
    finish(
      new TransportError(tlsProblem ? `TLS verification failed: ${message}` : message, false, code),
      socket,
    );
  });
  const timer = setTimeout(
    () =>
      finish(
        new TransportError(`connect timeout after ${opts.connectTimeoutMs} ms`, false, "ETIMEDOUT"),
        socket,
      ),
    opts.connectTimeoutMs,
  );
}

function makeAgent(opts: PinnedFetchOptions, secure: boolean): http.Agent {
  const Base = secure ? https.Agent : http.Agent;
  const agent = new Base({ keepAlive: false });
  // Overridden per instance: http.Agent calls createConnection(options, oncreate).
  (agent as unknown as { createConnection: unknown }).createConnection = (
    o: { host?: string; hostname?: string; port?: number | string },
    oncreate: Oncreate,
  ) => {
    const host = String(o.hostname ?? o.host ?? "localhost").replace(/^\[|\]$/g, "");
    connectVerified(opts, secure, { host, port: Number(o.port) }, oncreate);
    return undefined;
  };
  return agent;
}

const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);

export function createPinnedFetch(opts: PinnedFetchOptions): FetchLike {
  const agents = { http: makeAgent(opts, false), https: makeAgent(opts, true) };
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = typeof input === "string" ? new URL(input) : input;
      const secure = url.protocol === "https:";
      let connected = false;
      let settled = false;
      const fail = (err: TransportError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(err);
      };
      const req = (secure ? https : http).request(url, {
        method: init.method ?? "GET",
        headers: init.headers,
        agent: secure ? agents.https : agents.http,
      });
      const timer = setTimeout(
        () =>
          fail(
            new TransportError(`request timeout after ${opts.requestTimeoutMs} ms`, connected, "ETIMEDOUT"),
          ),
        opts.requestTimeoutMs,
      );
      req.on("socket", (s) => {
        // Our agent hands over connected sockets; a mocked (nock) one counts as connected too.
        connected = true;
        s.once("error", () => {});
      });
      req.on("error", (err) => {
        if (err instanceof TransportError) return fail(err);
        const { message, code } = describeNetError(err);
        const sent = connected && !(code && NOT_SENT_CODES.has(code));
        fail(new TransportError(message, sent, code));
      });
      init.signal?.addEventListener(
        "abort",
        () => fail(new TransportError("request aborted", connected, "ABORT_ERR")),
        {
          once: true,
        },
      );
      req.on("response", (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (err) => fail(new TransportError(describeNetError(err).message, true)));
        res.on("end", () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (Array.isArray(v)) for (const x of v) headers.append(k, x);
            else if (v !== undefined) headers.set(k, v);
          }
          const status = res.statusCode ?? 0;
          const body = NULL_BODY_STATUS.has(status) ? null : Buffer.concat(chunks);
          try {
            resolve(new Response(body, { status, statusText: res.statusMessage ?? "", headers }));
          } catch {
            // A reason phrase the WHATWG Response refuses (non-latin1): keep the status, drop the phrase.
            resolve(new Response(body, { status, headers }));
          }
        });
      });
      req.end(init.body);
    });
}
