import { isIPv6 } from "node:net";
import dnsPacket from "dns-packet";
import { describe, expect, it } from "vitest";
import { isIPv6Text } from "../../lib/config/values.ts";
import { canonicalAddress, decodeName, decodeSoa, encodeTxt } from "../../lib/dns/wire/codec.ts";
import { encodeRdata } from "../../lib/dns/wire/rr.ts";
import { encodeUpdate } from "../../lib/dns/wire/update.ts";

// lib/dns/wire/codec.ts replaced dns-packet on every path (so `dns set` no
// longer evaluates it at start-up: issue 16, floor 2). dns-packet stays the
// independent reference here: what we write must be its bytes, what we read
// its strings, for every record type the project writes or reads.

interface Codec<T> {
  encode(v: T): Buffer;
  decode: { (b: Buffer, o?: number): T; bytes: number };
}
const raw = dnsPacket as unknown as {
  a: Codec<string>;
  aaaa: Codec<string>;
  txt: Codec<Buffer[]>;
  soa: Codec<{ mname: string; rname: string; serial: number }>;
  name: {
    encode(n: string): Buffer;
    decode: { (b: Buffer, o?: number, opts?: { mail: boolean }): string; bytes: number };
  };
};

/** dns-packet's canonical text of an address: its own encode then decode. */
const theirs = (address: string) =>
  address.includes(":") ? raw.aaaa.decode(raw.aaaa.encode(address)) : raw.a.decode(raw.a.encode(address));

/** Deterministic pseudo-random IPv6 texts with zero runs, upper case, leading zeros, IPv4 tails. */
function ipv6Samples(count: number): string[] {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const out: string[] = [];
  while (out.length < count) {
    const groups = Array.from({ length: 8 }, () => (rnd(3) === 0 ? 0 : rnd(0x10000)));
    let parts = groups.map((g) => (rnd(4) === 0 ? g.toString(16).padStart(4, "0") : g.toString(16)));
    if (rnd(3) === 0) parts = parts.map((p) => p.toUpperCase());
    let text = parts.join(":");
    if (rnd(4) === 0) text = `${parts.slice(0, 6).join(":")}:${rnd(256)}.${rnd(256)}.${rnd(256)}.${rnd(256)}`;
    // Shorten one run of zero groups with "::" the way a person might (not always the first or longest).
    const runs = [...text.matchAll(/(?:^|:)(?:0+:)+0+(?=:|$)/g)];
    const run = runs[rnd(runs.length + 1)];
    if (run?.index !== undefined)
      text = `${text.slice(0, run.index)}::${text.slice(run.index + run[0].length).replace(/^:/, "")}`;
    if (isIPv6(text)) out.push(text);
  }
  return out;
}

const FIXED_V6 = [
  "::",
  "::1",
  "1::",
  "2001:DB8::1",
  "2001:db8:0:0:1:0:0:0",
  "2001:0db8:0000:0000:0000:ff00:0042:8329",
  "fe80::1:0:0:1",
  "::ffff:192.0.2.1",
  "64:ff9b::198.51.100.7",
  "1:2:3:4:5:6:7:8",
  "0:0:1:0:0:0:1:0",
];

describe("addresses: the same canonical text and bytes as dns-packet", () => {
  const v6 = [...FIXED_V6, ...ipv6Samples(2000)];
  const v4 = ["0.0.0.0", "192.0.2.1", "255.255.255.255", "10.0.0.255", "203.0.113.10"];

  it("canonicalAddress gives dns-packet's text for every IPv4 and IPv6 sample", () => {
    const all = [...v4, ...v6];
    expect(all.map((a) => `${a} ${canonicalAddress(a)?.address}`)).toEqual(
      all.map((a) => `${a} ${theirs(a)}`),
    );
  });

  it("A and AAAA rdata are byte-identical to dns-packet's", () => {
    const hex = (b: Buffer) => b.toString("hex");
    expect(v4.map((a) => hex(encodeRdata({ type: "A", address: a })))).toEqual(
      v4.map((a) => hex(raw.a.encode(a))),
    );
    expect(v6.map((a) => `${a} ${hex(encodeRdata({ type: "AAAA", address: a }))}`)).toEqual(
      v6.map((a) => `${a} ${hex(raw.aaaa.encode(a))}`),
    );
  });

  it("TXT rdata is byte-identical to dns-packet's, one and several character-strings", () => {
    for (const chunks of [
      [Buffer.from("")],
      [Buffer.from("owner=x")],
      [Buffer.alloc(255, 1), Buffer.from("é")],
    ])
      expect(encodeTxt(chunks)).toEqual(raw.txt.encode(chunks));
  });

  it("isIPv6Text (net.isIPv6 only for text with a colon) answers as net.isIPv6 for every sample", () => {
    const all = [...v4, ...v6, "", "fe80::1%eth0", "::g", "1:2:3", "host.example.org", ":"];
    expect(all.map(isIPv6Text)).toEqual(all.map((a) => isIPv6(a)));
  });

  it("refuses what is no address, and zone ids, as before", () => {
    for (const bad of ["", "192.0.2", "192.0.2.01", "fe80::1%eth0", "::g", "host.example.org"])
      expect(canonicalAddress(bad), bad).toBeUndefined();
  });
});

describe("an UPDATE carrying each record type is dns-packet's encoding, byte for byte", () => {
  for (const rdata of [
    { type: "A", address: "192.0.2.7" },
    { type: "AAAA", address: "2001:db8::7" },
    { type: "TXT", text: "heritage=pvemigrate-dns,owner=pve" },
  ] as const) {
    it(`${rdata.type}: rrset-equals prerequisite and add`, () => {
      const ours = encodeUpdate({
        id: 0x4242,
        zone: "example.org",
        prerequisites: [{ kind: "rrsetEquals", name: "web.example.org", rdata: [rdata] }],
        updates: [{ kind: "add", name: "web.example.org", ttl: 60, rdata }],
      });
      const data = rdata.type === "TXT" ? [Buffer.from(rdata.text)] : rdata.address;
      const record = (ttl: number) => ({ type: rdata.type, name: "web.example.org", class: "IN", ttl, data });
      const reference = dnsPacket.encode({
        type: "query",
        id: 0x4242,
        flags: 5 << 11, // opcode UPDATE
        questions: [{ type: "SOA", name: "example.org", class: "IN" }],
        answers: [record(0)],
        authorities: [record(60)],
      } as unknown as dnsPacket.Packet);
      expect(ours).toEqual(reference);
    });
  }
});

describe("names and SOA read as dns-packet reads them", () => {
  const message = dnsPacket.encode({
    type: "response",
    id: 1,
    questions: [{ type: "SOA", name: "example.org" }],
    answers: [
      {
        type: "SOA",
        name: "example.org",
        data: {
          mname: "ns1.example.org",
          rname: "host\\.master.example.org",
          serial: 77,
          refresh: 5,
          minimum: 9,
        },
      },
    ],
  });
  // A compression pointer: "www" then a pointer to offset 12 (example.org in the question).
  const compressed = Buffer.concat([message, Buffer.from([3, 0x77, 0x77, 0x77, 0xc0, 12])]);

  it("decodes plain, compressed and root names with the same text and length", () => {
    for (const offset of [12, message.length]) {
      const ours = decodeName(compressed, offset);
      expect(ours.name).toBe(raw.name.decode(compressed, offset));
      expect(ours.bytes).toBe(raw.name.decode.bytes);
    }
    expect(decodeName(Buffer.from([0]), 0)).toEqual({ name: ".", bytes: 1 });
  });

  it("throws where dns-packet throws: forward pointers, overruns, bad label types", () => {
    for (const bad of [
      Buffer.from([0xc0, 0]),
      Buffer.from([5, 1, 2]),
      Buffer.from([0x40, 0]),
      Buffer.from([3, 97]),
    ]) {
      expect(() => raw.name.decode(bad, 0)).toThrow();
      expect(() => decodeName(bad, 0)).toThrow();
    }
  });

  it("decodes SOA rdata (RNAME with an escaped dot) like dns-packet, consuming the same bytes", () => {
    const soaAt = message.indexOf(Buffer.from([0, 6, 0, 1]), 30) + 8; // the answer's RDLENGTH
    const ours = decodeSoa(message, soaAt);
    expect(ours.soa).toEqual(raw.soa.decode(message, soaAt));
    expect(ours.bytes).toBe(raw.soa.decode.bytes);
    expect(ours.soa.rname).toBe("host\\.master.example.org");
  });
});
