import { createSocket, type Socket } from "node:dgram";
import { connect, createServer, type Server } from "node:net";
import { FLAG_QR, FLAG_TC, OPCODE_UPDATE } from "../../lib/dns/wire/constants.ts";
import { parseMessage } from "../../lib/dns/wire/response.ts";
import { encodeHeader, encodeQuestion } from "../../lib/dns/wire/rr.ts";
import { signReply, type TsigKey } from "../../lib/dns/wire/tsig.ts";
import { encodeQuery } from "../../lib/dns/wire/update.ts";
import { freePort } from "../support/named.ts";

// Relays in front of a real master on 127.0.0.1 that make an UPDATE's
// outcome ambiguous the ways networks do: the reply comes after the client
// gave up, the TCP connection drops after the request was written, the reply
// over TCP is truncated; and one that answers a query with a properly signed
// reply to ANOTHER question (the test holds the key, so it can sign like the
// server). Queries pass through untouched unless said otherwise, so the
// client's read-back sees the real master.

export interface Relay {
  port: number;
  /** UPDATE messages that reached the relay (UDP and TCP). */
  updates(): number;
  close(): Promise<void>;
}

const opcodeOf = (msg: Buffer) => (msg.length > 2 ? ((msg[2] as number) >> 3) & 0x0f : -1);

/** One UDP exchange with the real master; the reply, or undefined after `ms`. */
function upstreamUdp(targetPort: number, msg: Buffer, ms = 2000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    const timer = setTimeout(() => {
      s.close();
      resolve(undefined);
    }, ms);
    s.on("message", (reply) => {
      clearTimeout(timer);
      s.close();
      resolve(reply);
    });
    s.send(msg, targetPort, "127.0.0.1");
  });
}

/** One TCP exchange with the real master (length-prefixed); the reply without its prefix. */
function upstreamTcp(targetPort: number, msg: Buffer): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port: targetPort });
    let got = Buffer.alloc(0);
    s.on("connect", () => s.write(Buffer.concat([Buffer.from([msg.length >> 8, msg.length & 0xff]), msg])));
    s.on("data", (b: Buffer) => {
      got = Buffer.concat([got, b]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
        s.destroy();
        resolve(got.subarray(2, 2 + got.readUInt16BE(0)));
      }
    });
    s.on("error", () => resolve(undefined));
    s.on("close", () => resolve(undefined));
  });
}

interface Handlers {
  udp(sock: Socket, msg: Buffer, reply: (b: Buffer) => void): Promise<void>;
  /** TCP requests (whole messages); `socket.destroy()` to drop the connection. */
  tcp?(msg: Buffer, reply: (b: Buffer) => void, drop: () => void): Promise<void>;
}

async function relay(h: Handlers): Promise<Relay> {
  const port = await freePort();
  let updates = 0;
  const udp = createSocket("udp4");
  udp.on("message", (msg, rinfo) => {
    if (opcodeOf(msg) === OPCODE_UPDATE) updates++;
    void h.udp(udp, msg, (b) => udp.send(b, rinfo.port, rinfo.address));
  });
  await new Promise<void>((resolve) => udp.bind(port, "127.0.0.1", resolve));
  let tcp: Server | undefined;
  if (h.tcp) {
    const onTcp = h.tcp;
    tcp = createServer((sock) => {
      let buf = Buffer.alloc(0);
      sock.on("error", () => {});
      sock.on("data", (b: Buffer) => {
        buf = Buffer.concat([buf, b]);
        if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        if (opcodeOf(msg) === OPCODE_UPDATE) updates++;
        void onTcp(
          msg,
          (r) => sock.write(Buffer.concat([Buffer.from([r.length >> 8, r.length & 0xff]), r])),
          () => sock.destroy(),
        );
      });
    });
    const server = tcp;
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  }
  return {
    port,
    updates: () => updates,
    close: async () => {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      if (tcp) {
        const server = tcp;
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  };
}

const passThrough = async (targetPort: number, msg: Buffer, reply: (b: Buffer) => void) => {
  const r = await upstreamUdp(targetPort, msg);
  if (r) reply(r);
};

/** UPDATEs go to the master at once; their replies are passed on only after `delayMs`. */
export function lateReplyRelay(targetPort: number, delayMs: number): Promise<Relay> {
  return relay({
    async udp(_sock, msg, reply) {
      const r = await upstreamUdp(targetPort, msg);
      if (!r) return;
      if (opcodeOf(msg) === OPCODE_UPDATE) setTimeout(() => reply(r), delayMs);
      else reply(r);
    },
  });
}

/** A bare truncated reply (TC) to an UPDATE over UDP, so the client goes over TCP. */
function truncatedOverUdp(msg: Buffer): Buffer {
  return Buffer.concat([
    encodeHeader(msg.readUInt16BE(0), FLAG_QR | (OPCODE_UPDATE << 11) | FLAG_TC, [0, 0, 0, 0]),
  ]);
}

/**
 * UPDATEs are pushed over TCP (TC over UDP). Over TCP, "drop": the UPDATE is
 * passed to the master, then the connection is closed without its reply;
 * "truncated": nothing is passed on, and a reply signed with `key` comes
 * back with TC set (NOERROR, so only the TC bit says it is not an answer).
 */
export function tcpUpdateRelay(
  targetPort: number,
  mode: { kind: "drop" } | { kind: "truncated"; key: TsigKey },
): Promise<Relay> {
  return relay({
    async udp(_sock, msg, reply) {
      if (opcodeOf(msg) === OPCODE_UPDATE) reply(truncatedOverUdp(msg));
      else await passThrough(targetPort, msg, reply);
    },
    async tcp(msg, reply, drop) {
      if (mode.kind === "drop") {
        await upstreamTcp(targetPort, msg);
        drop();
        return;
      }
      const parsed = parseMessage(msg);
      const q = parsed.ok ? parsed.message.questions[0] : undefined;
      if (!parsed.ok || !q) return drop();
      const header = encodeHeader(parsed.message.id, FLAG_QR | (OPCODE_UPDATE << 11) | FLAG_TC, [1, 0, 0, 0]);
      const unsigned = Buffer.concat([header, encodeQuestion(q.name, q.type, q.klass)]);
      reply(signReply(unsigned, mode.key, parsed.message.tsig?.mac ?? Buffer.alloc(0), Date.now() / 1000));
    },
  });
}

/**
 * Queries for `asked` are answered with the master's reply to `instead`
 * (same type), re-signed with `key` over the client's request MAC: a reply
 * whose TSIG verifies but which answers another question.
 */
export function otherQuestionRelay(
  targetPort: number,
  key: TsigKey,
  asked: string,
  instead: string,
): Promise<Relay> {
  return relay({
    async udp(_sock, msg, reply) {
      const parsed = parseMessage(msg);
      const q = parsed.ok ? parsed.message.questions[0] : undefined;
      if (!parsed.ok || !q || q.name.toLowerCase() !== asked) return passThrough(targetPort, msg, reply);
      const type = q.type === 1 ? "A" : q.type === 28 ? "AAAA" : "TXT";
      const r = await upstreamUdp(targetPort, encodeQuery(parsed.message.id, instead, type));
      if (!r) return;
      reply(signReply(r, key, parsed.message.tsig?.mac ?? Buffer.alloc(0), Date.now() / 1000));
    },
  });
}

/** Passes the first UPDATE to the master, then answers nothing at all: a master that died after applying. */
export function deadAfterUpdateRelay(targetPort: number): Promise<Relay> {
  let dead = false;
  return relay({
    async udp(_sock, msg, reply) {
      if (dead) return;
      if (opcodeOf(msg) === OPCODE_UPDATE) {
        dead = true;
        await upstreamUdp(targetPort, msg);
        return;
      }
      await passThrough(targetPort, msg, reply);
    },
  });
}
