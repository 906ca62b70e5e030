import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TsigAlgorithm } from "../../lib/config/types.ts";
import {
  type InProcessMaster,
  type InProcessMasterSpec,
  startInProcessMaster,
} from "../../lib/demo/inprocess-master.ts";
import { runDemo } from "../../lib/demo/scenario.ts";
import { answerQuery, createZone, type Zone } from "../../lib/demo/zone.ts";
import { applyUpdate } from "../../lib/demo/zone-update.ts";
import { createDnsClient, type DnsClient } from "../../lib/dns/client.ts";
import { DnsRejected } from "../../lib/dns/errors.ts";
import { exchange } from "../../lib/dns/transport.ts";
import { RCODE, TSIG_ERROR, TYPE } from "../../lib/dns/wire/constants.ts";
import { parseMessage, readAddress, readTxt } from "../../lib/dns/wire/response.ts";
import { signMessage, type TsigKey, verifyResponse } from "../../lib/dns/wire/tsig.ts";
import { encodeQuery, encodeUpdate, type Prerequisite, type UpdateOp } from "../../lib/dns/wire/update.ts";
import { ExitCode, exitCodeOf } from "../../lib/errors.ts";
import { run } from "../../lib/process/run.ts";
import { safeWriteCases } from "../dns/cases.ts";
import { dnsConfig, master, OWNER, secretOf, ZONE } from "../dns/fixtures.ts";
import { dig, type TsigKeyFixture } from "../support/named.ts";
import { missing } from "../support/requirements.ts";

// The demo's in-process master: its pure core (zone + RFC 2136 apply) is
// tested on encoded messages; the running server is driven by OUR real
// DnsClient over UDP/TCP on loopback, and, when bind9-dnsutils is installed,
// checked by independent tools (dig reads, nsupdate signs) and by the same
// safe-write cases BIND and Knot pass.

const OWNER_TXT = `heritage=pvemigrate-dns,owner=${OWNER}`;

function fixtureKey(algorithm: TsigAlgorithm = "hmac-sha256"): TsigKeyFixture {
  return { name: "pvemigrate-key", algorithm, secret: randomBytes(32).toString("base64") };
}

function tsigKey(k: TsigKeyFixture): TsigKey {
  return { name: k.name, algorithm: k.algorithm, secret: Buffer.from(k.secret, "base64") };
}

function parsed(buf: Buffer) {
  const p = parseMessage(buf);
  if (!p.ok) throw new Error(p.error);
  return p.message;
}

function update(prerequisites: Prerequisite[], updates: UpdateOp[], zone = ZONE) {
  return parsed(encodeUpdate({ id: 1, zone, prerequisites, updates }));
}

function values(zone: Zone, name: string, type: "A" | "AAAA" | "TXT"): string[] {
  return answerQuery(zone, name, TYPE[type])
    .answers.map((r) => {
      const raw = { name: r.name, type: r.type, klass: 1, ttl: r.ttl, rdata: r.rdata, rdataOffset: 0 };
      return type === "TXT" ? readTxt(raw) : readAddress(raw);
    })
    .filter((v): v is string => v !== undefined)
    .sort();
}

/** The zone's in-process master on loopback, signing with `key`. */
const masterWith = (key: TsigKeyFixture, zone: Pick<InProcessMasterSpec, "nameserver" | "records"> = {}) =>
  startInProcessMaster({
    zone: ZONE,
    keyName: key.name,
    algorithm: key.algorithm,
    secret: key.secret,
    ...zone,
  });
/** A name made by hand before we came: not ours. */
const LEGACY = {
  nameserver: "ns1",
  records: [{ name: "legacy.example.org", type: "A" as const, value: "192.0.2.7" }],
};

describe("in-process master core (pure)", () => {
  const base = createZone({
    origin: ZONE,
    records: [{ name: "legacy.example.org", type: "A", value: "192.0.2.7" }],
  });

  it("answers authoritatively: data, NOERROR nodata with SOA, NXDOMAIN with SOA, REFUSED outside", () => {
    expect(answerQuery(base, "legacy.example.org", TYPE.A)).toMatchObject({
      rcode: RCODE.NOERROR,
      authoritative: true,
    });
    expect(values(base, "legacy.example.org", "A")).toEqual(["192.0.2.7"]);
    const nodata = answerQuery(base, "legacy.example.org", TYPE.TXT);
    expect(nodata).toMatchObject({ rcode: RCODE.NOERROR, answers: [] });
    expect(nodata.authority.map((r) => r.type)).toEqual([TYPE.SOA]);
    expect(answerQuery(base, "nope.example.org", TYPE.A)).toMatchObject({
      rcode: RCODE.NXDOMAIN,
      answers: [],
    });
    expect(answerQuery(base, "example.com", TYPE.A)).toMatchObject({
      rcode: RCODE.REFUSED,
      authoritative: false,
    });
    expect(answerQuery(base, "EXAMPLE.org.", TYPE.SOA).answers).toHaveLength(1);
  });

  it("applies all updates or none: one failed prerequisite leaves the zone as it was", () => {
    const add: UpdateOp[] = [
      { kind: "add", name: "x.example.org", ttl: 60, rdata: { type: "A", address: "192.0.2.1" } },
    ];
    const failing = applyUpdate(
      base,
      update(
        [
          { kind: "nameAbsent", name: "x.example.org" },
          { kind: "nameInUse", name: "y.example.org" },
        ],
        add,
      ),
    );
    expect(failing.rcode).toBe(RCODE.NXDOMAIN);
    expect(failing.zone).toBe(base);
    const ok = applyUpdate(base, update([{ kind: "nameAbsent", name: "x.example.org" }], add));
    expect(ok.rcode).toBe(RCODE.NOERROR);
    expect(ok.zone.serial).toBe(base.serial + 1);
    expect(values(ok.zone, "x.example.org", "A")).toEqual(["192.0.2.1"]);
    expect(values(base, "x.example.org", "A")).toEqual([]); // the old value is untouched
  });

  it("maps each prerequisite kind to its RFC 2136 rcode", () => {
    const cases: Array<[Prerequisite, number]> = [
      [{ kind: "nameInUse", name: "legacy.example.org" }, RCODE.NOERROR],
      [{ kind: "nameInUse", name: "none.example.org" }, RCODE.NXDOMAIN],
      [{ kind: "nameAbsent", name: "legacy.example.org" }, RCODE.YXDOMAIN],
      [{ kind: "rrsetExists", name: "legacy.example.org", type: "A" }, RCODE.NOERROR],
      [{ kind: "rrsetExists", name: "legacy.example.org", type: "TXT" }, RCODE.NXRRSET],
      [{ kind: "rrsetAbsent", name: "legacy.example.org", type: "A" }, RCODE.YXRRSET],
      [{ kind: "rrsetAbsent", name: "legacy.example.org", type: "AAAA" }, RCODE.NOERROR],
      [
        { kind: "rrsetEquals", name: "legacy.example.org", rdata: [{ type: "A", address: "192.0.2.7" }] },
        RCODE.NOERROR,
      ],
      [
        { kind: "rrsetEquals", name: "legacy.example.org", rdata: [{ type: "A", address: "192.0.2.8" }] },
        RCODE.NXRRSET,
      ],
      [
        {
          kind: "rrsetEquals",
          name: "legacy.example.org",
          rdata: [
            { type: "A", address: "192.0.2.7" },
            { type: "A", address: "192.0.2.8" },
          ],
        },
        RCODE.NXRRSET,
      ],
      [{ kind: "nameInUse", name: "other.example.com" }, RCODE.NOTZONE],
    ];
    for (const [p, rcode] of cases) expect([p, applyUpdate(base, update([p], [])).rcode]).toEqual([p, rcode]);
  });

  it("deletes an RRset, one RR, a whole name; never the apex SOA/NS", () => {
    let z = base;
    const step = (ops: UpdateOp[]) => {
      const r = applyUpdate(z, update([], ops));
      expect(r.rcode).toBe(RCODE.NOERROR);
      z = r.zone;
    };
    step([
      { kind: "add", name: "d.example.org", ttl: 60, rdata: { type: "A", address: "192.0.2.1" } },
      { kind: "add", name: "d.example.org", ttl: 60, rdata: { type: "A", address: "192.0.2.2" } },
      { kind: "add", name: "d.example.org", ttl: 60, rdata: { type: "TXT", text: "hello" } },
      { kind: "add", name: "d.example.org", ttl: 60, rdata: { type: "AAAA", address: "2001:db8::1" } },
    ]);
    step([{ kind: "deleteRR", name: "d.example.org", rdata: { type: "A", address: "192.0.2.1" } }]);
    expect(values(z, "d.example.org", "A")).toEqual(["192.0.2.2"]);
    step([{ kind: "deleteRRset", name: "d.example.org", type: "AAAA" }]);
    expect(values(z, "d.example.org", "AAAA")).toEqual([]);
    expect(values(z, "d.example.org", "TXT")).toEqual(["hello"]);
    step([{ kind: "deleteName", name: "d.example.org" }]);
    expect(answerQuery(z, "d.example.org", TYPE.A).rcode).toBe(RCODE.NXDOMAIN);
    step([{ kind: "deleteName", name: "example.org" }]);
    expect(answerQuery(z, "example.org", TYPE.SOA).answers).toHaveLength(1);
    expect(answerQuery(z, "example.org", TYPE.NS).answers).toHaveLength(1);
  });

  it("a no-op update keeps the serial; a record outside the zone is NOTZONE; an update for another zone NOTAUTH", () => {
    const noop = applyUpdate(base, update([], [{ kind: "deleteName", name: "absent.example.org" }]));
    expect(noop).toMatchObject({ rcode: RCODE.NOERROR, zone: base });
    const outside = applyUpdate(
      base,
      update(
        [],
        [{ kind: "add", name: "a.example.com", ttl: 60, rdata: { type: "A", address: "192.0.2.1" } }],
      ),
    );
    expect(outside.rcode).toBe(RCODE.NOTZONE);
    expect(applyUpdate(base, update([], [], "example.com")).rcode).toBe(RCODE.NOTAUTH);
  });
});

describe("in-process master on loopback, driven by the real DnsClient", () => {
  let server: InProcessMaster;
  const key = fixtureKey();
  const client = (k: TsigKeyFixture = key, clock?: () => number): DnsClient =>
    createDnsClient({
      dns: dnsConfig([master(server.port)], k),
      tsigSecret: secretOf(k),
      ...(clock ? { clock } : {}),
    });

  beforeAll(async () => {
    server = await masterWith(key, LEGACY);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("creates a name with our ownership TXT, swaps it, refuses a stale swap, deletes it", async () => {
    const c = client();
    const created = await c.setAddresses([{ name: "life.example.org", a: ["203.0.113.10"], aaaa: [] }]);
    expect(created.outcomes[0]).toMatchObject({ status: "updated", a: ["203.0.113.10"] });
    expect(await c.query("life.example.org")).toMatchObject({
      exists: true,
      a: ["203.0.113.10"],
      txt: [OWNER_TXT],
      owned: true,
    });
    const serial = server.serial();
    const swapped = await c.setAddresses([
      {
        name: "life.example.org",
        a: ["198.51.100.20"],
        aaaa: ["2001:db8::20"],
        expect: { a: ["203.0.113.10"], aaaa: [] },
      },
    ]);
    expect(swapped.outcomes[0]?.status).toBe("updated");
    expect(server.serial()).toBe(serial + 1);
    const stale = await c.setAddresses([
      { name: "life.example.org", a: ["192.0.2.99"], aaaa: [], expect: { a: ["203.0.113.10"], aaaa: [] } },
    ]);
    expect(stale.outcomes[0]).toMatchObject({
      status: "stale",
      expected: { a: ["203.0.113.10"], aaaa: [] },
      actual: { a: ["198.51.100.20"], aaaa: ["2001:db8::20"] },
    });
    expect(server.serial()).toBe(serial + 1);
    expect((await c.deleteName("life.example.org")).status).toBe("deleted");
    expect(await c.query("life.example.org")).toMatchObject({ exists: false, a: [], txt: [] });
    expect((await c.deleteName("life.example.org")).status).toBe("absent");
  });

  it("never touches a name without our TXT", async () => {
    const c = client();
    const r = await c.setAddresses([{ name: "legacy.example.org", a: ["192.0.2.1"], aaaa: [] }]);
    expect(r.outcomes[0]).toMatchObject({ status: "not-owned", actual: { a: ["192.0.2.7"], txt: [] } });
    expect((await c.deleteName("legacy.example.org")).status).toBe("not-owned");
    expect((await c.query("legacy.example.org")).a).toEqual(["192.0.2.7"]);
  });

  it("wrong secret -> BADSIG, unknown key -> BADKEY, skewed clock -> BADTIME: clear final errors, nothing changes", async () => {
    const serial = server.serial();
    const cases: Array<[DnsClient, RegExp]> = [
      [client({ ...key, secret: randomBytes(32).toString("base64") }), /NOTAUTH: TSIG BADSIG/],
      [
        client({ ...key, name: "nobody-key" }),
        /NOTAUTH: TSIG BADKEY: the server does not know key "nobody-key"/,
      ],
      [client({ ...key, algorithm: "hmac-sha512" }), /NOTAUTH: TSIG BADKEY/],
      [
        client(key, () => Date.now() + 3_600_000),
        /BADTIME: clocks differ by -(3599|3600|3601) s \(server behind\)/,
      ],
    ];
    for (const [c, message] of cases) {
      const err = await c
        .setAddresses([
          { name: "badkey.example.org", a: ["192.0.2.1"], aaaa: [], expect: { a: [], aaaa: [] } },
        ])
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DnsRejected);
      expect((err as Error).message).toMatch(message);
      expect(exitCodeOf(err)).toBe(ExitCode.peer);
    }
    expect(server.serial()).toBe(serial);
    expect(await client().query("badkey.example.org")).toMatchObject({ exists: false });
  });

  it("an unsigned UPDATE is REFUSED; an UPDATE for another zone is NOTAUTH (signed reply)", async () => {
    const to = master(server.port);
    const add: UpdateOp[] = [
      { kind: "add", name: "unsigned.example.org", ttl: 60, rdata: { type: "A", address: "192.0.2.1" } },
    ];
    const unsigned = await exchange(
      to,
      encodeUpdate({ id: 7, zone: ZONE, prerequisites: [], updates: add }),
      {
        deadline: Date.now() + 2000,
      },
    );
    if (!unsigned.ok) throw new Error(unsigned.detail);
    expect(parsed(unsigned.reply)).toMatchObject({ id: 7, qr: true, opcode: 5, rcode: RCODE.REFUSED });

    const k = tsigKey(key);
    const signed = signMessage(
      encodeUpdate({ id: 8, zone: "example.com", prerequisites: [], updates: [] }),
      k,
      Date.now() / 1000,
    );
    const other = await exchange(to, signed.message, { deadline: Date.now() + 2000 });
    if (!other.ok) throw new Error(other.detail);
    const reply = parsed(other.reply);
    expect(reply.rcode).toBe(RCODE.NOTAUTH);
    expect(verifyResponse(reply, k, signed.mac, Date.now() / 1000)).toEqual({ ok: true });
    expect(await client().query("unsigned.example.org")).toMatchObject({ exists: false });
  });

  it("a BADSIG reply carries the TSIG error and an empty MAC", async () => {
    const wrong = tsigKey({ ...key, secret: randomBytes(32).toString("base64") });
    const signed = signMessage(encodeQuery(9, "example.org", "SOA"), wrong, Date.now() / 1000);
    const r = await exchange(master(server.port), signed.message, { deadline: Date.now() + 2000 });
    if (!r.ok) throw new Error(r.detail);
    const reply = parsed(r.reply);
    expect(reply.rcode).toBe(RCODE.NOTAUTH);
    expect(reply.tsig).toMatchObject({ error: TSIG_ERROR.BADSIG, keyName: "pvemigrate-key" });
    expect(reply.tsig?.mac.length).toBe(0);
  });

  it("an answer too big for UDP comes back truncated and is fetched over TCP", async () => {
    const c = client();
    const many = Array.from({ length: 60 }, (_, i) => `192.0.2.${i + 1}`);
    await c.setAddresses([{ name: "big.example.org", a: many, aaaa: [], expect: { a: [], aaaa: [] } }]);
    const k = tsigKey(key);
    const q = signMessage(encodeQuery(10, "big.example.org", "A"), k, Date.now() / 1000);
    const r = await exchange(master(server.port), q.message, { deadline: Date.now() + 2000 });
    if (!r.ok) throw new Error(r.detail);
    expect(r.via).toBe("tcp");
    const reply = parsed(r.reply);
    expect(verifyResponse(reply, k, q.mac, Date.now() / 1000)).toEqual({ ok: true });
    expect(reply.answers).toHaveLength(60);
    expect((await c.query("big.example.org")).a).toEqual([...many].sort());
  });

  it("keeps answering after garbage and a response sent to it", async () => {
    const { createSocket } = await import("node:dgram");
    const sock = createSocket("udp4");
    try {
      const replies: Buffer[] = [];
      sock.on("message", (m) => replies.push(m));
      await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", () => resolve()));
      const send = (b: Buffer) =>
        new Promise<void>((resolve) => sock.send(b, server.port, "127.0.0.1", () => resolve()));
      await send(Buffer.from([1, 2, 3]));
      await send(Buffer.from([0, 1, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0])); // QR set: must not be answered
      await send(Buffer.from([0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xff])); // truncated question
      expect((await client().querySoa()).mname).toBe("ns1.example.org");
      expect(replies.map((m) => parsed(m))).toMatchObject([{ id: 2, rcode: RCODE.FORMERR }]);
    } finally {
      sock.close();
    }
  });
});

describe.skipIf(missing({ bins: ["dig"] }))(
  "in-process master: the safe-write cases BIND and Knot pass",
  () => {
    let server: InProcessMaster;
    const key = fixtureKey("hmac-sha384");
    const client = () =>
      createDnsClient({ dns: dnsConfig([master(server.port)], key), tsigSecret: secretOf(key) });

    beforeAll(async () => {
      server = await masterWith(key, LEGACY);
    });
    afterAll(async () => {
      await server?.stop();
    });

    safeWriteCases({ port: () => server.port, key: () => key, client });
  },
);

describe.skipIf(missing({ bins: ["nsupdate", "dig"] }))(
  "in-process master with BIND's own nsupdate and dig",
  () => {
    let server: InProcessMaster;
    const key = fixtureKey("hmac-sha512");
    const y = `${key.algorithm}:${key.name}:${key.secret}`;

    beforeAll(async () => {
      server = await masterWith(key);
    });
    afterAll(async () => {
      await server?.stop();
    });

    const nsupdate = (commands: string[], tsig = y) =>
      run(["nsupdate", "-y", tsig, "-t", "3"], {
        input: [`server 127.0.0.1 ${server.port}`, `zone ${ZONE}`, ...commands, "send", ""].join("\n"),
      });

    it("accepts nsupdate's signed update and dig verifies our signed answer", async () => {
      const r = await nsupdate(["update add ns.example.org 120 A 192.0.2.44"]);
      expect(r.code, r.stderr).toBe(0);
      const d = await run([
        "dig",
        "+norec",
        "+noall",
        "+answer",
        "-y",
        y,
        "-p",
        String(server.port),
        "@127.0.0.1",
        "ns.example.org",
        "A",
      ]);
      expect(d.stdout).toMatch(/ns\.example\.org\.\s+120\s+IN\s+A\s+192\.0\.2\.44/);
      expect(d.stdout + d.stderr).not.toMatch(/Couldn't verify|tsig verify failure|BADSIG/i);
    });

    it("nsupdate prerequisites: a failing 'prereq nxdomain' is YXDOMAIN and changes nothing", async () => {
      const r = await nsupdate([
        "prereq nxdomain ns.example.org",
        "update add ns.example.org 120 A 192.0.2.45",
      ]);
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/YXDOMAIN/);
      expect(await dig(server.port, "ns.example.org", "A")).toEqual(["192.0.2.44"]);
    });

    it("nsupdate with a wrong secret is refused with a TSIG error", async () => {
      const r = await nsupdate(
        ["update add wrong.example.org 120 A 192.0.2.46"],
        `${key.algorithm}:${key.name}:${randomBytes(64).toString("base64")}`,
      );
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/NOTAUTH|BADSIG|tsig/i);
      expect(await dig(server.port, "wrong.example.org", "A")).toEqual([]);
    });
  },
);

describe("demo with the in-process master (no named needed)", () => {
  const cli = [
    process.execPath,
    "--import",
    "tsx",
    join(import.meta.dirname, "..", "..", "bin", "pvemigrate-dns.ts"),
  ];

  it("moves mail.example.org with the live migration and play.example.org with the HA recovery", async () => {
    const lines: string[] = [];
    const code = await runDemo({
      out: (l) => lines.push(l),
      netns: false,
      cliCommand: cli,
      master: "in-process",
    });
    const text = lines.join("\n");
    const section = (title: string) => {
      const start = text.indexOf(`== ${title}`);
      const end = text.indexOf("\n-- ", start);
      return text.slice(start, end === -1 ? undefined : end);
    };
    expect(code, text).toBe(0);
    expect(text).toContain("DNS master: in-process signed-update master");
    expect(section("after step 1")).toMatch(/mail\.example\.org\s+203\.0\.113\.10/);
    const afterMigration = section("after step 2");
    expect(afterMigration).toMatch(/mail\.example\.org\s+198\.51\.100\.20/);
    expect(afterMigration).toMatch(/tcp\/2222 -> 10\.10\.1\.101:22 \(VM 101\) \(grace, \d+s left\)/);
    expect(text).toContain("forwards and routes in place on pve2: yes");
    const end = section("after step 4");
    expect(end).toMatch(/play\.example\.org\s+192\.0\.2\.30, 2001:db8:30::1/);
    expect(end).toMatch(/blog\.example\.org\s+198\.51\.100\.20/);
    expect(text).toContain("demo finished");
  }, 120_000);
});
