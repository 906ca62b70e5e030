import { describe, expect, it } from "vitest";
import { classifyReply } from "../../lib/dns/classify.ts";
import {
  type ParseResult,
  parseMessage,
  readAddress,
  readSoa,
  readTxt,
} from "../../lib/dns/wire/response.ts";
import { signMessage, signReply, type TsigKey } from "../../lib/dns/wire/tsig.ts";
import { encodeQuery, encodeUpdate } from "../../lib/dns/wire/update.ts";

// Property: whatever bytes arrive, the parser (and the reply classifier on
// top of it) returns a value, never throws; a failure is a clear message.
// A fixed seed keeps the run reproducible.

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const key: TsigKey = { name: "k", algorithm: "hmac-sha256", secret: Buffer.alloc(32, 1) };
const NOW = 1_750_000_000;

function check(buf: Buffer): ParseResult {
  let result: ParseResult | undefined;
  expect(
    () => {
      result = parseMessage(buf);
    },
    `parseMessage threw on ${buf.toString("hex")}`,
  ).not.toThrow();
  if (!result) throw new Error("unreachable");
  if (result.ok) {
    const m = result.message;
    for (const r of [...m.answers, ...m.authorities, ...m.additionals]) {
      readAddress(r);
      readTxt(r);
      readSoa(m, r);
    }
  } else {
    expect(result.error).toMatch(/^malformed DNS message \(.+\)$/);
  }
  expect(() =>
    classifyReply(buf, {
      id: buf.length >= 2 ? buf.readUInt16BE(0) : 0,
      opcode: 5,
      question: { name: "example.org", type: 6, klass: 1 },
      key,
      requestMac: Buffer.alloc(32),
      nowSeconds: NOW,
    }),
  ).not.toThrow();
  return result;
}

function validSamples(): Buffer[] {
  const update = encodeUpdate({
    id: 77,
    zone: "example.org",
    prerequisites: [
      { kind: "rrsetEquals", name: "a.example.org", rdata: [{ type: "TXT", text: "heritage=x" }] },
      { kind: "nameAbsent", name: "b.example.org" },
    ],
    updates: [
      { kind: "deleteRRset", name: "a.example.org", type: "A" },
      { kind: "add", name: "a.example.org", ttl: 60, rdata: { type: "AAAA", address: "2001:db8::5" } },
    ],
  });
  const signed = signMessage(update, key, NOW);
  const reply = Buffer.from(signed.message.subarray(0, 12 + 17));
  reply.writeUInt16BE((1 << 15) | (5 << 11), 2);
  reply.writeUInt16BE(1, 4);
  reply.fill(0, 6, 12);
  return [
    signed.message,
    signReply(reply, key, signed.mac, NOW),
    signMessage(encodeQuery(5, "mail.example.org", "SOA"), key, NOW).message,
  ];
}

describe("response parser never throws", () => {
  it("accepts the valid samples (sanity: the fuzz input starts from real messages)", () => {
    for (const s of validSamples()) expect(check(s).ok).toBe(true);
  });

  it("on every truncation of valid messages", () => {
    for (const s of validSamples()) {
      for (let len = 0; len < s.length; len++) expect(check(s.subarray(0, len)).ok).toBe(false);
    }
  });

  it("on random mutations of valid messages", () => {
    const rnd = mulberry32(0xd15ea5e);
    const samples = validSamples();
    let failures = 0;
    for (let i = 0; i < 4000; i++) {
      const buf = Buffer.from(samples[i % samples.length] as Buffer);
      const flips = 1 + Math.floor(rnd() * 4);
      for (let f = 0; f < flips; f++) buf[Math.floor(rnd() * buf.length)] = Math.floor(rnd() * 256);
      if (!check(buf).ok) failures++;
    }
    // The mutations must actually reach the error paths, or the test proves little.
    expect(failures).toBeGreaterThan(500);
  });

  it("on random bytes, including pointer loops and huge counts", () => {
    const rnd = mulberry32(42);
    for (let i = 0; i < 4000; i++) {
      const buf = Buffer.alloc(Math.floor(rnd() * 300));
      for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(rnd() * 256);
      check(buf);
    }
    // A name that points at itself.
    const loop = Buffer.from([0, 1, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    expect(check(loop)).toMatchObject({ ok: false, error: expect.stringMatching(/bad name/) });
  });
});
