import { createSocket, type Socket } from "node:dgram";
import { parseMessage } from "../../lib/dns/wire/response.ts";
import { encodeHeader, encodeQuestion } from "../../lib/dns/wire/rr.ts";
import { signReply, type TsigKey } from "../../lib/dns/wire/tsig.ts";
import { freePort } from "../support/named.ts";

// Misbehaving "masters" on 127.0.0.1 for failover tests: one that never
// answers, a port where nothing listens, and one that forges replies.

export interface FakeServer {
  port: number;
  close(): Promise<void>;
  /** How many datagrams it received. */
  received(): number;
}

async function udpServer(
  onMessage: (sock: Socket, msg: Buffer, port: number, address: string) => void,
): Promise<FakeServer> {
  const sock = createSocket("udp4");
  let count = 0;
  sock.on("message", (msg, rinfo) => {
    count++;
    onMessage(sock, msg, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", resolve));
  return {
    port: sock.address().port,
    received: () => count,
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}

/** A UDP socket that reads and never answers: a master that is down behind a firewall that drops. */
export function silentUdp(): Promise<FakeServer> {
  return udpServer(() => {});
}

/** A port nothing listens on: the kernel answers ICMP port unreachable (connection refused). */
export async function closedPort(): Promise<number> {
  return freePort();
}

/**
 * Answers every request with NOERROR, like a spoofer who wants us to believe
 * an update went through: unsigned, or signed with a key it does not have.
 */
export function forgingUdp(mode: "unsigned" | { signWith: TsigKey }): Promise<FakeServer> {
  return udpServer((sock, msg, port, address) => {
    const parsed = parseMessage(msg);
    if (!parsed.ok) return;
    const req = parsed.message;
    const q = req.questions[0];
    if (!q) return;
    const reply = Buffer.concat([
      encodeHeader(req.id, (1 << 15) | (req.opcode << 11), [1, 0, 0, 0]),
      encodeQuestion(q.name, q.type, q.klass),
    ]);
    const out =
      mode === "unsigned"
        ? reply
        : signReply(reply, mode.signWith, req.tsig?.mac ?? Buffer.alloc(0), Date.now() / 1000);
    sock.send(out, port, address);
  });
}

/**
 * A UDP relay in front of a real master that runs `race()` before it passes
 * on the first UPDATE: someone else's change lands between our read and our
 * write, which is exactly what compare-and-swap must survive.
 */
export function racingRelay(targetPort: number, race: () => Promise<void>): Promise<FakeServer> {
  let raced = false;
  return udpServer((sock, msg, port, address) => {
    void (async () => {
      const opcode = msg.length > 2 ? (msg[2]! >> 3) & 0x0f : -1;
      if (opcode === 5 && !raced) {
        raced = true;
        await race();
      }
      const upstream = createSocket("udp4");
      upstream.on("message", (reply) => {
        sock.send(reply, port, address);
        upstream.close();
      });
      upstream.send(msg, targetPort, "127.0.0.1");
    })();
  });
}
