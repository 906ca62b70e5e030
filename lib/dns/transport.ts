import { createSocket } from "node:dgram";
import { lookup as dnsLookup, type LookupOneOptions } from "node:dns";
import { connect } from "node:net";
import type { DnsMaster } from "../config/types.ts";
import { isIPv6Text } from "../config/values.ts";
import { UDP_MAX } from "./wire/constants.ts";
import { isIPv4 } from "./wire/ipv4.ts";
import { peekHeader } from "./wire/response.ts";

// One request/response exchange with one server: UDP first, TCP when the
// message does not fit in a UDP datagram or the reply comes back truncated.
// Failures are values, not exceptions, so the failover loop can classify
// them (timeout and refused move on to the next master). Each failure says
// whether the request left this host: an UPDATE that was sent and got no
// usable answer (a timeout, a connection lost after writing, a truncated
// reply over TCP) may have been applied, and the caller must find out.

export type ExchangeResult =
  | { ok: true; reply: Buffer; via: "udp" | "tcp" }
  | {
      ok: false;
      kind: "timeout" | "refused" | "network" | "truncated";
      detail: string;
      /** The request was handed to the network (the server may have acted on it). */
      sent: boolean;
    };

export interface ExchangeOptions {
  /** The whole exchange, UDP plus any TCP retry, ends by this deadline (Date.now() ms). */
  deadline: number;
  forceTcp?: boolean;
}

function errorResult(err: unknown, proto: string, sent: boolean): ExchangeResult {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  // Nothing listens there (ICMP port unreachable, RST on connect): the server never saw it.
  if (code === "ECONNREFUSED")
    return { ok: false, kind: "refused", detail: `connection refused (${proto})`, sent: false };
  const message = err instanceof Error ? err.message : String(err);
  return { ok: false, kind: "network", detail: `${proto} error: ${message}`, sent };
}

function timeout(ms: number, proto: string, sent: boolean): ExchangeResult {
  return { ok: false, kind: "timeout", detail: `no answer within ${ms} ms (${proto})`, sent };
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/**
 * The UDP socket's name lookup (its bind to the wildcard address and its
 * connect to the master): a literal address is its own answer, as in
 * dns.lookup, which answers literals the same way without asking anyone;
 * only a host name goes to dns.lookup. Why: dgram's default lookup loads
 * node:dns, and node:dns reads resolv.conf and nsswitch.conf when it loads,
 * ~1 ms of every `dns set` (issue 16, floor 2). dgram asks for family 4 on a
 * udp4 socket and 6 on a udp6 one (created for a master with a ":" only);
 * it passes the family as a number (lib/internal/dgram.js lookup4/lookup6),
 * where @types/node declares dns.lookup's options object.
 */
export function literalLookup(
  address: string,
  options: LookupOneOptions | number,
  callback: LookupCallback,
): void {
  const family = typeof options === "number" ? options : options.family === 6 ? 6 : 4;
  const literal = family === 6 ? address.includes(":") : isIPv4(address);
  if (literal) process.nextTick(callback, null, address, family);
  else dnsLookup(address, { family }, callback);
}

function udpExchange(master: DnsMaster, query: Buffer, deadline: number): Promise<ExchangeResult> {
  const id = query.readUInt16BE(0);
  const budget = Math.max(0, deadline - Date.now());
  return new Promise((resolve) => {
    const sock = createSocket({ type: isIPv6Text(master.host) ? "udp6" : "udp4", lookup: literalLookup });
    let done = false;
    let sent = false;
    const finish = (r: ExchangeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        sock.close();
      } catch {}
      resolve(r);
    };
    const timer = setTimeout(() => finish(timeout(budget, "udp", sent)), budget);
    sock.on("error", (err) => finish(errorResult(err, "udp", sent)));
    sock.on("message", (msg, rinfo) => {
      // A connected socket only receives from the server, but check anyway:
      // an off-path answer must match source address, port and id.
      const header = peekHeader(msg);
      if (rinfo.port !== master.port || !header || header.id !== id || !header.qr) return;
      finish({ ok: true, reply: msg, via: "udp" });
    });
    // An OS-chosen (random) source port per exchange, connected so that ICMP
    // "port unreachable" surfaces as ECONNREFUSED: a fast fallback.
    sock.connect(master.port, master.host, () => {
      sock.send(query, (err) => {
        if (err) finish(errorResult(err, "udp", false));
        else sent = true;
      });
    });
  });
}

function tcpExchange(master: DnsMaster, query: Buffer, deadline: number): Promise<ExchangeResult> {
  const id = query.readUInt16BE(0);
  const budget = Math.max(0, deadline - Date.now());
  return new Promise((resolve) => {
    const sock = connect({ host: master.host, port: master.port });
    let done = false;
    let sent = false;
    let received = Buffer.alloc(0);
    const finish = (r: ExchangeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish(timeout(budget, "tcp", sent)), budget);
    sock.on("error", (err) => finish(errorResult(err, "tcp", sent)));
    sock.on("connect", () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(query.length, 0);
      sent = true;
      sock.write(Buffer.concat([length, query]));
    });
    sock.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      // Skip whole messages that are not ours (should not happen on a fresh connection).
      while (received.length >= 2) {
        const len = received.readUInt16BE(0);
        if (received.length < 2 + len) return;
        const msg = received.subarray(2, 2 + len);
        received = received.subarray(2 + len);
        const header = peekHeader(msg);
        if (header && header.id === id && header.qr) {
          // TCP carries up to 64 KiB: a truncated reply here is not a complete answer.
          if (header.truncated)
            return finish({
              ok: false,
              kind: "truncated",
              detail: "truncated reply over tcp (TC set)",
              sent,
            });
          return finish({ ok: true, reply: Buffer.from(msg), via: "tcp" });
        }
      }
    });
    sock.on("end", () =>
      finish({
        ok: false,
        kind: "network",
        detail: sent ? "tcp connection closed after sending, without an answer" : "tcp connection closed",
        sent,
      }),
    );
  });
}

/** Sends `query` (already signed) to one master and returns its reply bytes, or why there is none. */
export async function exchange(
  master: DnsMaster,
  query: Buffer,
  opts: ExchangeOptions,
): Promise<ExchangeResult> {
  if (opts.forceTcp || query.length > UDP_MAX) return tcpExchange(master, query, opts.deadline);
  const udp = await udpExchange(master, query, opts.deadline);
  if (udp.ok && peekHeader(udp.reply)?.truncated) return tcpExchange(master, query, opts.deadline);
  return udp;
}
