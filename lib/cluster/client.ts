import { readFileSync } from "node:fs";
import { type ApiRequestable, type Proxmox, ProxmoxEngine, proxmoxApi } from "proxmox-api";
import { z } from "zod";
import type { Secret } from "../config/secret.ts";
import { type ProxmoxConfig, SYSTEM_CAS } from "../config/types.ts";
import { InputError, PeerError } from "../errors.ts";
import {
  createPinnedFetch,
  type FetchInit,
  type FetchLike,
  type PinnedFetchOptions,
  TransportError,
} from "./http.ts";

// The Proxmox API client: proxmox-api's engine for the request/response
// protocol, our pinned fetch underneath, and endpoint failover around it.
//
// proxmox-api retries a request whose fetch threw, POST included. Each call
// therefore gets a one-shot fetch: the first invocation goes to the network,
// any retry the library attempts gets the first failure back without sending
// anything. So a migrate POST leaves this process at most once per endpoint, and
// only goes to the next endpoint when the first provably never received it.

export type Method = "GET" | "POST" | "PUT" | "DELETE";
export type Params = Record<string, string | number | boolean | undefined>;

export interface ProxmoxClient {
  /** Sends one request; resolves with the response's `data`. */
  request(method: Method, path: string, params?: Params): Promise<unknown>;
  /** The same requests through proxmox-api's typed path model, e.g. api.cluster.resources.$get(). */
  readonly api: Proxmox.Api;
  readonly endpoints: readonly string[];
  /** Requests sent over the wire (attempts, not calls); benchmarks and tests read it. */
  readonly stats: { requests: number };
}

export class ProxmoxApiError extends PeerError {
  override name = "ProxmoxApiError";
  constructor(
    message: string,
    readonly method: string,
    readonly path: string,
    readonly endpoint?: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface CreateClientOptions {
  proxmox: ProxmoxConfig;
  tokenSecret: Secret;
  /** Replaces the pinned fetch (tests); must have the same one-request-per-call behaviour. */
  fetch?: FetchLike;
  /** Stands in for the system's trusted CAs of `caFile: system` (tests); default Node's own store. */
  systemCas?: string[];
}

const API_PREFIX = "/api2/json";
const TOKEN_ID = /^[^@\s]+@[^!\s]+![A-Za-z][A-Za-z0-9._-]*$/;
// proxmox-api rejects (and console.errors about) anything else; we check first so the
// message names the file, never the content.
const TOKEN_SECRET = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Endpoint {
  url: string;
  schema: "http" | "https";
  host: string;
  port: number;
}

function parseEndpoint(url: string, index: number): Endpoint {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError(`proxmox.endpoints[${index}]: ${JSON.stringify(url)} is not a URL`);
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") {
    throw new InputError(`proxmox.endpoints[${index}]: ${JSON.stringify(url)} must be https://host:port`);
  }
  const schema = u.protocol === "https:" ? "https" : "http";
  return { url: `${u.protocol}//${u.host}`, schema, host: u.hostname, port: u.port ? Number(u.port) : 8006 };
}

/** What the one-shot fetch saw, so our error names the real cause, not the library's rewording. */
interface AttemptRecord {
  error?: TransportError;
  status?: number;
  statusText?: string;
  contentType?: string | null;
  body?: string;
}

function oneShotFetch(
  base: FetchLike,
  stats: { requests: number },
): { fetch: FetchLike; seen: AttemptRecord } {
  const seen: AttemptRecord = {};
  let used = false;
  const fetch: FetchLike = async (url, init?: FetchInit) => {
    if (used) {
      // The library's retry: refuse to send again.
      throw seen.error ?? new TransportError("refusing to resend a request", true);
    }
    used = true;
    stats.requests++;
    try {
      // Our fetch enforces connect and request timeouts itself; the library's
      // abort signal is dropped (see queryTimeout below).
      const { signal: _ignored, ...rest } = init ?? {};
      const res = await base(url, rest);
      seen.status = res.status;
      seen.statusText = res.statusText;
      seen.contentType = res.headers.get("content-type");
      if (res.status !== 200) seen.body = await res.clone().text();
      return res;
    } catch (err) {
      seen.error =
        err instanceof TransportError
          ? err
          : new TransportError(err instanceof Error ? err.message : String(err), true);
      throw seen.error;
    }
  };
  return { fetch, seen };
}

/** Proxmox's error body: per-field errors (pve-common src/PVE/Exception.pm raise_param_exc: "Parameter verification failed."). */
const errorBody = z.object({ errors: z.record(z.string(), z.unknown()).nullish() });

function parseJsonOrUndefined(text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? "");
  } catch {
    return undefined;
  }
}

function proxmoxMessage(seen: AttemptRecord): string {
  // Proxmox puts the reason in the status line; the body may add per-field errors.
  let detail = `${seen.status} ${seen.statusText ?? ""}`.trim();
  const parsed = errorBody.safeParse(parseJsonOrUndefined(seen.body));
  const fields = Object.entries(parsed.success ? (parsed.data.errors ?? {}) : {})
    .map(([k, v]) => `${k}: ${String(v).trim()}`)
    .join("; ");
  if (fields) detail += ` (${fields.slice(0, 500)})`;
  return detail;
}

/** Whether the next endpoint may be tried after this failure. */
function mayFailOver(method: Method, seen: AttemptRecord): boolean {
  if (seen.error) return method === "GET" || !seen.error.sent;
  // An answer: 5xx on a GET may be this node's trouble (595: it cannot reach another node).
  return method === "GET" && (seen.status ?? 0) >= 500;
}

function readCa(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw new InputError(`proxmox.caFile: cannot read ${file} (${code})`);
  }
}

/** How the API certificate is verified: a fingerprint pin, a CA file, or the system CAs, and which name. */
function trustOf(
  proxmox: ProxmoxConfig,
  endpoints: readonly Endpoint[],
  systemCas: string[] | undefined,
): Pick<PinnedFetchOptions, "caPem" | "fingerprint" | "serverName"> {
  if (proxmox.fingerprint) return { fingerprint: proxmox.fingerprint };
  const name = proxmox.serverName ? { serverName: proxmox.serverName } : {};
  if (proxmox.caFile === SYSTEM_CAS) return { ...(systemCas ? { caPem: systemCas } : {}), ...name };
  if (proxmox.caFile && endpoints.some((e) => e.schema === "https"))
    return { caPem: readCa(proxmox.caFile), ...name };
  return name;
}

export function createProxmoxClient(opts: CreateClientOptions): ProxmoxClient {
  const { proxmox, tokenSecret } = opts;
  if (!TOKEN_ID.test(proxmox.tokenId)) {
    throw new InputError(`proxmox.tokenId: ${JSON.stringify(proxmox.tokenId)} is not USER@REALM!TOKENID`);
  }
  if (!TOKEN_SECRET.test(tokenSecret.reveal().trim())) {
    throw new InputError(
      `proxmox.tokenSecretFile: ${tokenSecret.file} does not hold a token secret (a lowercase UUID)`,
    );
  }
  if (proxmox.endpoints.length === 0)
    throw new InputError("proxmox.endpoints: at least one endpoint is needed");
  const endpoints = proxmox.endpoints.map(parseEndpoint);
  const base =
    opts.fetch ??
    createPinnedFetch({
      connectTimeoutMs: proxmox.connectTimeoutMs,
      requestTimeoutMs: proxmox.requestTimeoutMs,
      ...trustOf(proxmox, endpoints, opts.systemCas),
    });
  const stats = { requests: 0 };
  // The endpoint that answered last is tried first next time: when the local
  // pveproxy is down, only the first call of a run pays its connect timeout.
  let preferred = 0;

  async function once(ep: Endpoint, method: Method, fullPath: string, params?: Params) {
    const shot = oneShotFetch(base, stats);
    const engine = new ProxmoxEngine({
      // URL.hostname keeps an IPv6 literal's brackets, which is what the library's URL building needs.
      host: ep.host,
      port: ep.port,
      schema: ep.schema,
      tokenID: proxmox.tokenId,
      tokenSecret: tokenSecret.reveal().trim(),
      // proxmox-api arms an abort timer of queryTimeout per request and clears it
      // only on success: after a failure it would keep the process (a CLI run, the
      // hook's worker) alive for the whole period. Our fetch owns the timeouts and
      // ignores that signal, so the timer is made to fire (harmlessly) at once.
      queryTimeout: 1,
      // The library types its fetch with undici's Request/Response types; ours returns the global Response.
      fetch: shot.fetch as never,
    });
    try {
      const data: unknown = await engine.doRequest(
        method,
        fullPath,
        fullPath,
        params ? { ...params } : undefined,
      );
      return { ok: true as const, data };
    } catch (err) {
      return { ok: false as const, seen: shot.seen, err };
    }
  }

  function describe(seen: AttemptRecord, err: unknown): string {
    if (seen.error) return seen.error.message;
    if (seen.status === 200 && seen.contentType !== "application/json;charset=UTF-8") {
      return `unexpected content type ${JSON.stringify(seen.contentType ?? "")}, expected application/json;charset=UTF-8`;
    }
    if (seen.status !== undefined && seen.status !== 200) {
      const hint =
        seen.status === 401 ? ` (check proxmox.tokenId and the secret in ${tokenSecret.file})` : "";
      return `${proxmoxMessage(seen)}${hint}`;
    }
    // The library's own message carries only URL and response data, never the token.
    return err instanceof Error ? err.message : String(err);
  }

  // Defence in depth: no message we build may carry the secret, whatever a
  // lower layer (a library, a mock) put into the text it handed us.
  const redact = (text: string) => text.split(tokenSecret.reveal().trim()).join("<redacted>");

  async function request(method: Method, path: string, params?: Params): Promise<unknown> {
    const fullPath = path.startsWith(API_PREFIX) ? path : `${API_PREFIX}${path}`;
    const shown = fullPath.slice(API_PREFIX.length);
    const order = [preferred, ...endpoints.keys()].filter((v, i, a) => a.indexOf(v) === i);
    const failures: string[] = [];
    let last: { endpoint: Endpoint; status?: number } | undefined;
    for (const index of order) {
      const ep = endpoints[index]!;
      const r = await once(ep, method, fullPath, params);
      if (r.ok) {
        preferred = index;
        return r.data;
      }
      const why = redact(describe(r.seen, r.err));
      failures.push(`${ep.url}: ${why}`);
      last = { endpoint: ep, ...(r.seen.status !== undefined ? { status: r.seen.status } : {}) };
      if (!mayFailOver(method, r.seen)) {
        throw new ProxmoxApiError(
          `Proxmox API ${ep.url} ${method} ${shown}: ${why}`,
          method,
          shown,
          ep.url,
          r.seen.status,
        );
      }
    }
    const msg =
      failures.length === 1
        ? `Proxmox API ${method} ${shown}: ${failures[0]}`
        : `Proxmox API ${method} ${shown}: every endpoint failed: ${failures.join("; ")}`;
    throw new ProxmoxApiError(msg, method, shown, last?.endpoint.url, last?.status);
  }

  const requestable: ApiRequestable = {
    doRequest: (method: string, path: string, _template: string, params?: Params) =>
      request(method.toUpperCase() as Method, path, params),
  };
  return { request, api: proxmoxApi(requestable), endpoints: endpoints.map((e) => e.url), stats };
}
