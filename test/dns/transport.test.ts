import { createSocket } from "node:dgram";
import { lookup } from "node:dns";
import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { exchange, literalLookup } from "../../lib/dns/transport.ts";
import { encodeHeader } from "../../lib/dns/wire/rr.ts";
import { encodeQuery } from "../../lib/dns/wire/update.ts";
import { freePort } from "../support/named.ts";

// The transport's own rules with scripted peers on 127.0.0.1: replies that
// do not match (id, source port) are ignored, a truncated UDP answer is
// fetched again over TCP on the same port.

// node:dns's lookup, still the real one, watched: literalLookup must answer literals without it.
vi.mock("node:dns", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:dns")>();
  return { ...real, lookup: vi.fn(real.lookup) };
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function reply(id: number, flags: number, marker: number): Buffer {
  // A header-only reply; ancount carries a marker so the test can tell replies apart.
  return encodeHeader(id, (1 << 15) | flags, [0, marker, 0, 0]);
}

describe("transport", () => {
  it("ignores replies with the wrong id or from another port, takes the matching one", async () => {
    const port = await freePort();
    const server = createSocket("udp4");
    const stranger = createSocket("udp4");
    await new Promise<void>((r) => server.bind(port, "127.0.0.1", r));
    await new Promise<void>((r) => stranger.bind(0, "127.0.0.1", r));
    cleanups.push(
      () => void server.close(),
      () => void stranger.close(),
    );
    server.on("message", (msg, rinfo) => {
      const id = msg.readUInt16BE(0);
      stranger.send(reply(id, 0, 1), rinfo.port, rinfo.address); // right id, wrong source port
      server.send(reply((id + 1) & 0xffff, 0, 2), rinfo.port, rinfo.address); // wrong id
      setTimeout(() => server.send(reply(id, 0, 3), rinfo.port, rinfo.address), 50);
    });
    const r = await exchange({ host: "127.0.0.1", port }, encodeQuery(777, "a.example.org", "A"), {
      deadline: Date.now() + 2000,
    });
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.via).toBe("udp");
      expect(r.reply.readUInt16BE(0)).toBe(777);
      expect(r.reply.readUInt16BE(6)).toBe(3);
    }
  });

  it("retries over TCP when the UDP answer is truncated", async () => {
    const port = await freePort();
    const udp = createSocket("udp4");
    await new Promise<void>((r) => udp.bind(port, "127.0.0.1", r));
    udp.on("message", (msg, rinfo) =>
      udp.send(reply(msg.readUInt16BE(0), 1 << 9, 1), rinfo.port, rinfo.address),
    );
    const sockets: Socket[] = [];
    const tcp: Server = createServer((s) => {
      sockets.push(s);
      s.on("data", (data) => {
        const id = data.readUInt16BE(2);
        const r = reply(id, 0, 2);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(r.length, 0);
        s.write(Buffer.concat([len, r]));
      });
    });
    await new Promise<void>((r) => tcp.listen(port, "127.0.0.1", r));
    cleanups.push(
      () => void udp.close(),
      () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          tcp.close(() => r());
        }),
    );
    const r = await exchange({ host: "127.0.0.1", port }, encodeQuery(4321, "big.example.org", "TXT"), {
      deadline: Date.now() + 2000,
    });
    expect(r).toMatchObject({ ok: true, via: "tcp" });
    if (r.ok) expect(r.reply.readUInt16BE(6)).toBe(2);
  });

  it("reports a silent server as a timeout at the deadline, a closed port as refused", async () => {
    const port = await freePort();
    const silent = createSocket("udp4");
    await new Promise<void>((r) => silent.bind(port, "127.0.0.1", r));
    cleanups.push(() => void silent.close());
    const t = await exchange({ host: "127.0.0.1", port }, encodeQuery(1, "a.example.org", "A"), {
      deadline: Date.now() + 200,
    });
    expect(t).toMatchObject({ ok: false, kind: "timeout" });
    const closed = await freePort();
    const c = await exchange({ host: "127.0.0.1", port: closed }, encodeQuery(1, "a.example.org", "A"), {
      deadline: Date.now() + 2000,
    });
    expect(c).toMatchObject({ ok: false, kind: "refused", detail: "connection refused (udp)" });
    const ct = await exchange({ host: "127.0.0.1", port: closed }, encodeQuery(1, "a.example.org", "A"), {
      deadline: Date.now() + 2000,
      forceTcp: true,
    });
    expect(ct).toMatchObject({ ok: false, kind: "refused", detail: "connection refused (tcp)" });
  });

  it("the UDP socket's lookup answers literal addresses itself without node:dns, and asks node:dns for a host name", async () => {
    const look = (address: string, family: number) =>
      new Promise<{ address: string; family: number }>((resolve, reject) =>
        literalLookup(address, family, (err, a, f) =>
          err ? reject(err) : resolve({ address: a, family: f }),
        ),
      );
    expect(await look("192.0.2.53", 4)).toEqual({ address: "192.0.2.53", family: 4 });
    expect(await look("0.0.0.0", 4)).toEqual({ address: "0.0.0.0", family: 4 });
    expect(await look("2001:db8::53", 6)).toEqual({ address: "2001:db8::53", family: 6 });
    expect(await look("::", 6)).toEqual({ address: "::", family: 6 });
    // The literals never reached dns.lookup (which answers them alike); see also the module list
    // of a whole `dns set` in test/dns/dns-set-fast.test.ts, where node:dns is not even loaded.
    expect(vi.mocked(lookup)).not.toHaveBeenCalled();
    expect(await look("localhost", 4)).toEqual({ address: "127.0.0.1", family: 4 });
    expect(vi.mocked(lookup)).toHaveBeenCalledTimes(1);
    expect(vi.mocked(lookup).mock.calls[0]?.[0]).toBe("localhost");
  });

  it("exchanges with a master given by host name (localhost) over UDP", async () => {
    const port = await freePort();
    const server = createSocket("udp4");
    await new Promise<void>((r) => server.bind(port, "127.0.0.1", r));
    cleanups.push(() => void server.close());
    server.on("message", (msg, rinfo) =>
      server.send(reply(msg.readUInt16BE(0), 0, 9), rinfo.port, rinfo.address),
    );
    // A generous bound, not a timed assertion: the reply is immediate, but the machine is shared.
    const r = await exchange({ host: "localhost", port }, encodeQuery(778, "a.example.org", "A"), {
      deadline: Date.now() + 20_000,
    });
    expect(r.ok && r.via).toBe("udp");
    expect(r.ok && r.reply.readUInt16BE(6)).toBe(9);
  });
});
