import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type Server, type Socket as TcpSocket } from "node:net";
import type { TsigAlgorithm } from "../config/types.ts";
import { u16 } from "../dns/wire/bytes.ts";
import { UDP_MAX } from "../dns/wire/constants.ts";
import type { TsigKey } from "../dns/wire/tsig.ts";
import { handleRequest } from "./handle-request.ts";
import type { DemoMaster } from "./named.ts";
import { createZone, type ZoneOptions } from "./zone.ts";

// The demo's DNS master when BIND's `named` is not installed: a small
// authoritative server for one zone that accepts TSIG-signed RFC 2136
// UPDATEs, so `pvemigrate-dns demo` runs the real client (prerequisites,
// compare-and-swap, ownership TXT, TSIG both ways) on a fresh machine.
// It is NOT a production DNS server: one zone, in memory, A/AAAA/TXT only.
//
// Functional core: the zone is an immutable value; handleRequest(zone, bytes,
// key, now) returns the reply bytes and the next zone (HMAC is the only
// "effect"). The socket shell at the bottom owns the current zone and the
// clock, and swaps the zone in one assignment: an UPDATE is atomic.

// ---------------------------------------------------------------- socket shell

export interface InProcessMasterSpec {
  zone: string;
  keyName: string;
  algorithm: TsigAlgorithm;
  /** base64, as tsig-keygen prints it. */
  secret: string;
  /** Name server label and extra records (tests); see ZoneOptions. */
  nameserver?: string;
  records?: ZoneOptions["records"];
  /** Wall clock in ms for TSIG time checks (tests). */
  clock?: () => number;
}

export interface InProcessMaster extends DemoMaster {
  kind: "in-process";
  /** The current zone serial (for tests and the demo's output). */
  serial(): number;
}

async function bindBoth(
  onUdp: (sock: UdpSocket, msg: Buffer, port: number, address: string) => void,
  onTcp: (conn: TcpSocket) => void,
): Promise<{ udp: UdpSocket; tcp: Server; port: number }> {
  // Bind UDP on a random port, then TCP on the same number; retry if TCP's is taken.
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = createSocket("udp4");
    udp.on("message", (msg, rinfo) => onUdp(udp, msg, rinfo.port, rinfo.address));
    udp.on("error", () => {}); // a send to a vanished client must not crash the demo
    await new Promise<void>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(0, "127.0.0.1", () => resolve());
    });
    const port = udp.address().port;
    const tcp = createServer(onTcp);
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once("error", () => resolve(false));
      tcp.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (ok) return { udp, tcp, port };
    await new Promise<void>((resolve) => udp.close(() => resolve()));
  }
  throw new Error("in-process DNS master: no port free for both UDP and TCP on 127.0.0.1");
}

/** Starts the demo master on 127.0.0.1 (UDP and TCP on one random port). */
export async function startInProcessMaster(spec: InProcessMasterSpec): Promise<InProcessMaster> {
  const key: TsigKey = {
    name: spec.keyName,
    algorithm: spec.algorithm,
    secret: Buffer.from(spec.secret, "base64"),
  };
  if (key.secret.length === 0) throw new Error("in-process DNS master: empty TSIG secret");
  const clock = spec.clock ?? Date.now;
  let zone = createZone({
    origin: spec.zone,
    ...(spec.nameserver ? { nameserver: spec.nameserver } : {}),
    ...(spec.records ? { records: spec.records } : {}),
  });
  const handle = (msg: Buffer, maxBytes: number): Buffer | undefined => {
    const r = handleRequest(zone, msg, key, clock() / 1000, maxBytes);
    zone = r.zone; // one assignment: an UPDATE lands entirely or not at all
    return r.reply;
  };

  const connections = new Set<TcpSocket>();
  const onTcp = (conn: TcpSocket) => {
    connections.add(conn);
    conn.setTimeout(10_000, () => conn.destroy());
    conn.on("error", () => {});
    conn.on("close", () => connections.delete(conn));
    let pending = Buffer.alloc(0);
    conn.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      // RFC 1035 4.2.2: each message is prefixed by its 2-byte length; several may follow.
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const len = pending.readUInt16BE(0);
        const reply = handle(Buffer.from(pending.subarray(2, 2 + len)), 65535);
        pending = pending.subarray(2 + len);
        if (reply) conn.write(Buffer.concat([u16(reply.length), reply]));
      }
    });
  };
  const onUdp = (sock: UdpSocket, msg: Buffer, port: number, address: string) => {
    const reply = handle(msg, UDP_MAX);
    if (reply) sock.send(reply, port, address);
  };
  const { udp, tcp, port } = await bindBoth(onUdp, onTcp);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const c of connections) c.destroy();
    await Promise.all([
      new Promise<void>((resolve) => udp.close(() => resolve())),
      new Promise<void>((resolve) => tcp.close(() => resolve())),
    ]);
  };
  return { kind: "in-process", host: "127.0.0.1", port, stop, serial: () => zone.serial };
}
