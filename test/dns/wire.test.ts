import dnsPacket from "dns-packet";
import { describe, expect, it } from "vitest";
import { CLASS_ANY, CLASS_IN, CLASS_NONE, RCODE, TSIG_ERROR, TYPE } from "../../lib/dns/wire/constants.ts";
import { parseMessage, readAddress, readSoa, readTxt } from "../../lib/dns/wire/response.ts";
import { encodeHeader, encodeQuestion } from "../../lib/dns/wire/rr.ts";
import { signMessage, signReply, type TsigKey, verifyResponse } from "../../lib/dns/wire/tsig.ts";
import { encodeQuery, encodeUpdate } from "../../lib/dns/wire/update.ts";

const key: TsigKey = { name: "pvemigrate-key", algorithm: "hmac-sha256", secret: Buffer.alloc(32, 7) };
const NOW = 1_750_000_000;

function parsed(buf: Buffer) {
  const r = parseMessage(buf);
  if (!r.ok) throw new Error(r.error);
  return r.message;
}

describe("UPDATE encoding (RFC 2136)", () => {
  const msg = encodeUpdate({
    id: 0x1234,
    zone: "example.org",
    prerequisites: [
      { kind: "rrsetEquals", name: "mail.example.org", rdata: [{ type: "A", address: "203.0.113.10" }] },
      { kind: "rrsetExists", name: "a.example.org", type: "TXT" },
      { kind: "rrsetAbsent", name: "mail.example.org", type: "AAAA" },
      { kind: "nameInUse", name: "b.example.org" },
      { kind: "nameAbsent", name: "new.example.org" },
    ],
    updates: [
      { kind: "deleteRRset", name: "mail.example.org", type: "A" },
      { kind: "add", name: "mail.example.org", ttl: 60, rdata: { type: "A", address: "198.51.100.20" } },
      { kind: "add", name: "mail.example.org", ttl: 60, rdata: { type: "AAAA", address: "2001:DB8::1" } },
      { kind: "deleteName", name: "old.example.org" },
      { kind: "deleteRR", name: "x.example.org", rdata: { type: "TXT", text: "hello" } },
    ],
  });
  const m = parsed(msg);

  it("has opcode 5, the zone as SOA question and the section counts", () => {
    expect(m.id).toBe(0x1234);
    expect(m.opcode).toBe(5);
    expect(m.qr).toBe(false);
    expect(msg.readUInt16BE(2)).toBe(5 << 11);
    expect(m.questions).toEqual([{ name: "example.org", type: TYPE.SOA, klass: CLASS_IN }]);
    expect(m.answers).toHaveLength(5);
    expect(m.authorities).toHaveLength(5);
  });

  it("writes value-dependent prerequisites with class IN, TTL 0 and the rdata", () => {
    expect(m.answers[0]).toMatchObject({ name: "mail.example.org", type: TYPE.A, klass: CLASS_IN, ttl: 0 });
    expect(readAddress(m.answers[0]!)).toBe("203.0.113.10");
  });

  it("writes class ANY / NONE records with empty rdata", () => {
    const shape = (r: (typeof m.answers)[number]) => [r.type, r.klass, r.ttl, r.rdata.length];
    expect(shape(m.answers[1]!)).toEqual([TYPE.TXT, CLASS_ANY, 0, 0]);
    expect(shape(m.answers[2]!)).toEqual([TYPE.AAAA, CLASS_NONE, 0, 0]);
    expect(shape(m.answers[3]!)).toEqual([TYPE.ANY, CLASS_ANY, 0, 0]);
    expect(shape(m.answers[4]!)).toEqual([TYPE.ANY, CLASS_NONE, 0, 0]);
    expect(shape(m.authorities[0]!)).toEqual([TYPE.A, CLASS_ANY, 0, 0]);
    expect(shape(m.authorities[3]!)).toEqual([TYPE.ANY, CLASS_ANY, 0, 0]);
  });

  it("writes adds with class IN and the TTL, deletes of one RR with class NONE", () => {
    expect(m.authorities[1]).toMatchObject({ type: TYPE.A, klass: CLASS_IN, ttl: 60 });
    expect(readAddress(m.authorities[1]!)).toBe("198.51.100.20");
    expect(readAddress(m.authorities[2]!)).toBe("2001:db8::1");
    expect(m.authorities[4]).toMatchObject({ type: TYPE.TXT, klass: CLASS_NONE, ttl: 0 });
    expect(readTxt(m.authorities[4]!)).toBe("hello");
  });

  it("is readable by dns-packet too (an independent decoder), where it can read the record types", () => {
    // dns-packet decodes empty rdata of known types wrongly (that is why we encode them
    // ourselves), so the cross-check uses value records only.
    const d = dnsPacket.decode(
      encodeUpdate({
        id: 9,
        zone: "example.org",
        prerequisites: [
          { kind: "rrsetEquals", name: "mail.example.org", rdata: [{ type: "A", address: "203.0.113.10" }] },
        ],
        updates: [{ kind: "add", name: "mail.example.org", ttl: 60, rdata: { type: "TXT", text: "hi" } }],
      }),
    );
    expect(d.questions?.[0]).toMatchObject({ name: "example.org", type: "SOA" });
    expect(d.answers?.[0]).toMatchObject({ name: "mail.example.org", type: "A", data: "203.0.113.10" });
    expect(d.authorities?.[0]).toMatchObject({ name: "mail.example.org", type: "TXT", ttl: 60 });
  });

  it("splits TXT text longer than 255 bytes into character-strings", () => {
    const long = "x".repeat(300);
    const u = parsed(
      encodeUpdate({
        id: 1,
        zone: "example.org",
        prerequisites: [],
        updates: [{ kind: "add", name: "t.example.org", ttl: 1, rdata: { type: "TXT", text: long } }],
      }),
    );
    expect(u.authorities[0]!.rdata[0]).toBe(255);
    expect(readTxt(u.authorities[0]!)).toBe(long);
  });

  it("refuses malformed names and addresses of the wrong family", () => {
    const bad =
      (name: string, address: string, type: "A" | "AAAA" = "A") =>
      () =>
        encodeUpdate({
          id: 1,
          zone: "example.org",
          prerequisites: [],
          updates: [{ kind: "add", name, ttl: 1, rdata: { type, address } }],
        });
    expect(bad(`${"a".repeat(64)}.example.org`, "192.0.2.1")).toThrow(/invalid DNS name/);
    expect(bad("a..example.org", "192.0.2.1")).toThrow(/invalid DNS name/);
    expect(bad("a.example.org", "2001:db8::1")).toThrow(/not an A address/);
    expect(bad("a.example.org", "192.0.2.1", "AAAA")).toThrow(/not an AAAA address/);
    expect(bad("a.example.org", "192.0.2.999")).toThrow(/not an A address/);
  });

  it("encodes non-recursive queries", () => {
    const q = parsed(encodeQuery(7, "mail.example.org", "AAAA"));
    expect(q.flags).toBe(0);
    expect(q.questions).toEqual([{ name: "mail.example.org", type: TYPE.AAAA, klass: CLASS_IN }]);
  });
});

/** A reply to `request` as a server would build it: same id and question, QR set. */
function replyTo(request: Buffer, rcode: number, answers: Buffer[] = []): Buffer {
  const req = parsed(request);
  const q = req.questions[0]!;
  return Buffer.concat([
    encodeHeader(req.id, (1 << 15) | (req.opcode << 11) | rcode, [1, answers.length, 0, 0]),
    encodeQuestion(q.name, q.type, q.klass),
    ...answers,
  ]);
}

describe("TSIG (RFC 8945)", () => {
  const unsigned = encodeQuery(42, "mail.example.org", "A");
  const { message: signed, mac } = signMessage(unsigned, key, NOW);

  it("appends one TSIG record as the last additional and bumps ARCOUNT", () => {
    const m = parsed(signed);
    expect(signed.readUInt16BE(10)).toBe(1);
    expect(m.additionals).toHaveLength(0);
    expect(m.tsig).toMatchObject({
      keyName: "pvemigrate-key",
      algorithm: "hmac-sha256",
      timeSigned: NOW,
      fudge: 300,
    });
    expect(m.tsig?.mac).toEqual(mac);
    expect(m.tsig?.originalId).toBe(42);
    expect(mac).toHaveLength(32);
  });

  it.each([
    ["hmac-sha1", 20],
    ["hmac-sha224", 28],
    ["hmac-sha256", 32],
    ["hmac-sha384", 48],
    ["hmac-sha512", 64],
  ] as const)("%s gives a %d-byte MAC that verifies on a signed reply", (algorithm, len) => {
    const k: TsigKey = { ...key, algorithm };
    const s = signMessage(unsigned, k, NOW);
    expect(s.mac).toHaveLength(len);
    const reply = signReply(replyTo(unsigned, 0), k, s.mac, NOW + 2);
    expect(verifyResponse(parsed(reply), k, s.mac, NOW)).toEqual({ ok: true });
  });

  it("changes the MAC when any signed byte changes", () => {
    const other = signMessage(encodeQuery(42, "mail.example.org", "AAAA"), key, NOW);
    expect(other.mac.equals(mac)).toBe(false);
    const later = signMessage(unsigned, key, NOW + 1);
    expect(later.mac.equals(mac)).toBe(false);
  });

  it("rejects an unsigned reply", () => {
    const v = verifyResponse(parsed(replyTo(unsigned, 0)), key, mac, NOW);
    expect(v).toMatchObject({ ok: false, kind: "invalid", detail: expect.stringMatching(/unsigned/) });
  });

  it("rejects a reply signed with another secret, or whose bytes were altered", () => {
    const forged = signReply(replyTo(unsigned, 0), { ...key, secret: Buffer.alloc(32, 8) }, mac, NOW);
    expect(verifyResponse(parsed(forged), key, mac, NOW)).toMatchObject({ ok: false, kind: "invalid" });
    const good = signReply(replyTo(unsigned, 0), key, mac, NOW);
    const altered = Buffer.from(good);
    altered[3] = (altered[3] as number) | RCODE.NXDOMAIN; // flip the rcode after signing
    expect(verifyResponse(parsed(altered), key, mac, NOW)).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/does not verify/),
    });
  });

  it("rejects a reply signed for another request (request MAC is part of the reply MAC)", () => {
    const otherMac = signMessage(unsigned, key, NOW - 10).mac;
    const reply = signReply(replyTo(unsigned, 0), key, otherMac, NOW);
    expect(verifyResponse(parsed(reply), key, mac, NOW)).toMatchObject({ ok: false, kind: "invalid" });
  });

  it("rejects a reply with another key name or algorithm", () => {
    const reply = signReply(replyTo(unsigned, 0), { ...key, name: "other-key" }, mac, NOW);
    expect(verifyResponse(parsed(reply), key, mac, NOW)).toMatchObject({
      detail: expect.stringMatching(/other-key/),
    });
  });

  it("rejects a correctly signed reply outside the time window", () => {
    const reply = signReply(replyTo(unsigned, 0), key, mac, NOW - 1000);
    expect(verifyResponse(parsed(reply), key, mac, NOW)).toMatchObject({
      detail: expect.stringMatching(/outside the fudge/),
    });
  });

  it("maps BADSIG and BADKEY (unsigned NOTAUTH replies) to clear messages", () => {
    const bad = (error: number) => {
      const r = parsed(replyTo(unsigned, RCODE.NOTAUTH));
      // Servers answer these with an empty MAC: build that TSIG by signing with a zero-length MAC shape.
      const reply = signReply(replyTo(unsigned, RCODE.NOTAUTH), key, mac, NOW, { error });
      const p = parsed(reply);
      const tsig = { ...p.tsig!, mac: Buffer.alloc(0) };
      return verifyResponse({ ...r, tsig }, key, mac, NOW);
    };
    expect(bad(TSIG_ERROR.BADSIG)).toMatchObject({
      kind: "server-rejected",
      detail: expect.stringMatching(/BADSIG/),
    });
    expect(bad(TSIG_ERROR.BADKEY)).toMatchObject({
      kind: "server-rejected",
      detail: expect.stringMatching(/BADKEY.*pvemigrate-key.*hmac-sha256/),
    });
  });

  it("reports the clock skew of a BADTIME reply from the server time in other data", () => {
    const serverTime = Buffer.alloc(6);
    serverTime.writeUInt32BE(NOW + 3600, 2);
    const reply = signReply(replyTo(unsigned, RCODE.NOTAUTH), key, mac, NOW + 3600, {
      error: TSIG_ERROR.BADTIME,
      other: serverTime,
    });
    expect(verifyResponse(parsed(reply), key, mac, NOW)).toMatchObject({
      kind: "server-rejected",
      detail: expect.stringMatching(/BADTIME: clocks differ by 3600 s \(server ahead\)/),
    });
  });
});

describe("response readers", () => {
  it("reads an SOA with compressed names", () => {
    const buf = dnsPacket.encode({
      type: "response",
      id: 1,
      questions: [{ type: "SOA", name: "example.org" }],
      answers: [
        {
          type: "SOA",
          name: "example.org",
          data: { mname: "ns1.example.org", rname: "hostmaster.example.org", serial: 77 },
        },
      ],
    });
    const m = parsed(buf);
    expect(readSoa(m, m.answers[0]!)).toMatchObject({ mname: "ns1.example.org", serial: 77 });
  });

  it("returns undefined for rdata of the wrong size instead of throwing", () => {
    const m = parsed(
      dnsPacket.encode({ type: "response", id: 1, answers: [{ type: "TXT", name: "x", data: ["ab"] }] }),
    );
    expect(readAddress({ ...m.answers[0]!, type: TYPE.A })).toBeUndefined();
    expect(readTxt({ ...m.answers[0]!, rdata: Buffer.from([5, 1]) })).toBeUndefined();
  });
});
