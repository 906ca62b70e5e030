import { expect, it } from "vitest";
import type { DnsClient } from "../../lib/dns/client.ts";
import { createDnsClient } from "../../lib/dns/client.ts";
import { DnsAllMastersFailed, DnsRejected } from "../../lib/dns/errors.ts";
import { ExitCode, exitCodeOf } from "../../lib/errors.ts";
import { dig, digAnswer, type TsigKeyFixture, ttlsAt } from "../support/named.ts";
import { dnsConfig, OWNER, secretOf } from "./fixtures.ts";

// Safe-write cases every master implementation must pass (BIND and Knot).
// `server()` gives the running daemon; names are unique per case, and the
// zone holds `legacy IN A 192.0.2.7` (someone else's name).

export interface CaseContext {
  port: () => number;
  key: () => TsigKeyFixture;
  client: () => DnsClient;
  /**
   * knotd 3.2 sometimes holds an UPDATE in its queue until the next one
   * arrives (its log then says "DDNS, processing 2 updates"), so the first
   * attempt times out and the retry finds the change applied: the outcome is
   * then "unchanged" (or "absent" for a delete) instead of "updated"/"deleted".
   * The records are checked with dig either way.
   */
  lateAnswers?: boolean;
  /**
   * PowerDNS 4.7 answers an UPDATE whose TSIG it rejects (unknown key, wrong
   * secret or algorithm, clock skew) with a bare REFUSED: no TSIG record, so no
   * BADSIG/BADKEY/BADTIME code, and nothing that proves the server sent it.
   * The client does not trust it, goes on with the candidates until the total
   * timeout, and fails with a peer error naming the likely causes.
   */
  bareTsigRejections?: boolean;
}

const OWNER_TXT = `"heritage=pvemigrate-dns,owner=${OWNER}"`;

export function safeWriteCases(ctx: CaseContext): void {
  const applied = (status: string | undefined) =>
    expect(status).toMatch(ctx.lateAnswers ? /^(updated|unchanged)$/ : /^updated$/);
  const bare = ctx.bareTsigRejections === true;
  // A bare REFUSED is retried until the total timeout: keep that short here.
  const tsigLimits = bare ? { totalTimeoutMs: 500 } : {};
  const expectTsigRejected = (err: unknown, reason: RegExp) => {
    if (bare) {
      expect(err).toBeInstanceOf(DnsAllMastersFailed);
      expect((err as Error).message).toMatch(
        /reply rejected: unsigned response \(no TSIG record\) to a signed request: REFUSED without TSIG, as PowerDNS answers when it rejects the TSIG \(key name, secret or algorithm it does not accept, or clocks more than 300 s apart\)/,
      );
    } else {
      expect(err).toBeInstanceOf(DnsRejected);
      expect((err as Error).message).toMatch(reason);
    }
    expect(exitCodeOf(err)).toBe(ExitCode.peer);
  };
  const badKeyTitle = bare
    ? "wrong secret, unknown key and wrong algorithm get a bare REFUSED: not trusted, a peer error naming the likely causes; nothing changes"
    : "wrong secret, unknown key and wrong algorithm are clear final errors; nothing changes";
  const skewTitle = bare
    ? "a clock off by an hour gets a bare REFUSED: a peer error naming clock skew among the causes"
    : "a clock off by an hour gets BADTIME with the skew in the message";

  it("creates a new name with our ownership TXT (checked with dig)", async () => {
    const r = await ctx
      .client()
      .setAddresses([{ name: "create.example.org", a: ["203.0.113.10"], aaaa: [] }]);
    expect(r.outcomes).toEqual([
      {
        name: "create.example.org",
        status: "updated",
        master: `127.0.0.1:${ctx.port()}`,
        a: ["203.0.113.10"],
        aaaa: [],
      },
    ]);
    expect(r.acceptedBy).toEqual([`127.0.0.1:${ctx.port()}`]);
    expect(await dig(ctx.port(), "create.example.org", "A")).toEqual(["203.0.113.10"]);
    expect(await dig(ctx.port(), "create.example.org", "TXT")).toEqual([OWNER_TXT]);
  });

  it("moves an owned name with compare-and-swap, A and AAAA, TTL from config", async () => {
    const c = ctx.client();
    await c.setAddresses([
      { name: "move.example.org", a: ["203.0.113.10"], aaaa: [], expect: { a: [], aaaa: [] } },
    ]);
    const r = await c.setAddresses([
      {
        name: "move.example.org",
        a: ["198.51.100.20"],
        aaaa: ["2001:db8::20"],
        expect: { a: ["203.0.113.10"], aaaa: [] },
      },
    ]);
    applied(r.outcomes[0]?.status);
    expect(await dig(ctx.port(), "move.example.org", "A")).toEqual(["198.51.100.20"]);
    expect(await dig(ctx.port(), "move.example.org", "AAAA")).toEqual(["2001:db8::20"]);
    expect(await digAnswer(ctx.port(), "move.example.org", "A")).toMatch(
      /move\.example\.org\.\s+60\s+IN\s+A\s+198\.51\.100\.20/,
    );
  });

  it("a stale expectation gets NXRRSET and changes nothing", async () => {
    const c = ctx.client();
    await c.setAddresses([{ name: "stale.example.org", a: ["192.0.2.50"], aaaa: [] }]);
    const r = await c.setAddresses([
      { name: "stale.example.org", a: ["192.0.2.99"], aaaa: [], expect: { a: ["192.0.2.1"], aaaa: [] } },
    ]);
    expect(r.outcomes[0]).toMatchObject({
      status: "stale",
      expected: { a: ["192.0.2.1"], aaaa: [] },
      actual: { a: ["192.0.2.50"], aaaa: [] },
    });
    expect(r.acceptedBy).toEqual([]);
    expect(await dig(ctx.port(), "stale.example.org", "A")).toEqual(["192.0.2.50"]);
  });

  it("changing only the TTL is a compare-and-swap write on the same value; our TXT takes the TTL too", async () => {
    const c = ctx.client();
    const name = "ttl-only.example.org";
    const same = { name, a: ["192.0.2.44"], aaaa: [] };
    applied((await c.setAddresses([same])).outcomes[0]?.status);
    expect((await c.query(name)).ttl).toBe(60);
    applied((await c.setAddresses([{ ...same, ttl: 5 }])).outcomes[0]?.status);
    expect(await answerTtls(ctx.port(), name)).toEqual({ A: [5], TXT: [5] });
    expect((await c.setAddresses([{ ...same, ttl: 5 }])).outcomes[0]?.status).toBe("unchanged");
    // Someone moved the name after our read: the TTL-only write (swapping .44 for .44) fails its prerequisite.
    await c.setAddresses([{ name, a: ["192.0.2.45"], aaaa: [] }], { ttl: 5 });
    const r = await c.setAddresses([{ ...same, ttl: 60, expect: { a: ["192.0.2.44"], aaaa: [] } }]);
    expect(r.outcomes[0]).toMatchObject({ status: "stale", actual: { a: ["192.0.2.45"], aaaa: [] } });
    expect(await dig(ctx.port(), name, "A")).toEqual(["192.0.2.45"]);
    expect(await answerTtls(ctx.port(), name)).toEqual({ A: [5], TXT: [5] });
  });

  it("repeating an update that already landed reports unchanged (a lost reply is safe to retry)", async () => {
    const c = ctx.client();
    await c.setAddresses([{ name: "again.example.org", a: ["192.0.2.60"], aaaa: [] }]);
    const change = {
      name: "again.example.org",
      a: ["192.0.2.61"],
      aaaa: [],
      expect: { a: ["192.0.2.60"], aaaa: [] },
    };
    applied((await c.setAddresses([change])).outcomes[0]?.status);
    expect((await c.setAddresses([change])).outcomes[0]?.status).toBe("unchanged");
    expect(await dig(ctx.port(), "again.example.org", "A")).toEqual(["192.0.2.61"]);
  });

  it("never touches a name created by someone else (no TXT), with or without an expectation", async () => {
    const c = ctx.client();
    const r1 = await c.setAddresses([{ name: "legacy.example.org", a: ["192.0.2.1"], aaaa: [] }]);
    const r2 = await c.setAddresses([
      { name: "legacy.example.org", a: ["192.0.2.1"], aaaa: [], expect: { a: ["192.0.2.7"], aaaa: [] } },
    ]);
    const r3 = await c.setAddresses([
      { name: "legacy.example.org", a: ["192.0.2.1"], aaaa: [], expect: { a: [], aaaa: [] } },
    ]);
    for (const r of [r1, r2, r3]) {
      expect(r.outcomes[0]).toMatchObject({ status: "not-owned", actual: { a: ["192.0.2.7"], txt: [] } });
    }
    expect(await dig(ctx.port(), "legacy.example.org", "A")).toEqual(["192.0.2.7"]);
    expect(await dig(ctx.port(), "legacy.example.org", "TXT")).toEqual([]);
    expect((await c.deleteName("legacy.example.org")).status).toBe("not-owned");
    expect(await dig(ctx.port(), "legacy.example.org", "A")).toEqual(["192.0.2.7"]);
  });

  it("batches many names into one message (the zone serial moves by one)", async () => {
    const c = ctx.client();
    const before = await c.querySoa();
    const names = Array.from({ length: 20 }, (_, i) => `batch${i}.example.org`);
    const r = await c.setAddresses(
      names.map((name, i) => ({ name, a: [`192.0.2.${i + 1}`], aaaa: [], expect: { a: [], aaaa: [] } })),
    );
    for (const o of r.outcomes) applied(o.status);
    expect(r.outcomes.map((o) => o.name)).toEqual(names);
    const after = await c.querySoa();
    expect(after.serial - before.serial).toBe(1);
    expect(await dig(ctx.port(), "batch19.example.org", "A")).toEqual(["192.0.2.20"]);
  });

  it("a batch with one stale name still writes the others (split and retried per name)", async () => {
    const c = ctx.client();
    await c.setAddresses([{ name: "mixed-old.example.org", a: ["192.0.2.70"], aaaa: [] }]);
    const r = await c.setAddresses([
      { name: "mixed-new.example.org", a: ["192.0.2.71"], aaaa: [], expect: { a: [], aaaa: [] } },
      { name: "mixed-old.example.org", a: ["192.0.2.72"], aaaa: [], expect: { a: ["192.0.2.1"], aaaa: [] } },
    ]);
    expect(r.outcomes.map((o) => o.name)).toEqual(["mixed-new.example.org", "mixed-old.example.org"]);
    applied(r.outcomes[0]?.status);
    expect(r.outcomes[1]?.status).toBe("stale");
    expect(await dig(ctx.port(), "mixed-new.example.org", "A")).toEqual(["192.0.2.71"]);
    expect(await dig(ctx.port(), "mixed-old.example.org", "A")).toEqual(["192.0.2.70"]);
  });

  it("deletes an owned name entirely; deleting it again reports absent", async () => {
    const c = ctx.client();
    await c.setAddresses([{ name: "gone.example.org", a: ["192.0.2.80"], aaaa: ["2001:db8::80"] }]);
    expect((await c.deleteName("gone.example.org")).status).toMatch(
      ctx.lateAnswers ? /^(deleted|absent)$/ : /^deleted$/,
    );
    expect(await dig(ctx.port(), "gone.example.org", "A")).toEqual([]);
    expect(await dig(ctx.port(), "gone.example.org", "TXT")).toEqual([]);
    expect(await c.deleteName("gone.example.org")).toMatchObject({ status: "absent" });
  });

  it("reads a name and the SOA directly at the master", async () => {
    const c = ctx.client();
    await c.setAddresses([{ name: "read.example.org", a: ["192.0.2.90"], aaaa: [] }]);
    expect(await c.query("read.example.org")).toMatchObject({
      exists: true,
      a: ["192.0.2.90"],
      aaaa: [],
      owned: true,
      txt: [OWNER_TXT.slice(1, -1)],
    });
    expect(await c.query("nothing-here.example.org")).toMatchObject({ exists: false, a: [], owned: false });
    expect(await c.querySoa()).toMatchObject({ zone: "example.org", mname: "ns1.example.org" });
  });

  it(badKeyTitle, async () => {
    const key = ctx.key();
    const masters = [{ host: "127.0.0.1", port: ctx.port() }];
    const wrongSecret = { ...key, secret: Buffer.alloc(32, 9).toString("base64") };
    const unknownKey = { ...key, name: "nobody-key" };
    const wrongAlg = {
      ...key,
      algorithm: key.algorithm === "hmac-sha512" ? ("hmac-sha256" as const) : ("hmac-sha512" as const),
    };
    const cases: Array<[TsigKeyFixture, RegExp]> = [
      [wrongSecret, /NOTAUTH: TSIG BADSIG/],
      [unknownKey, /NOTAUTH: TSIG BADKEY: the server does not know key "nobody-key"/],
      [wrongAlg, /NOTAUTH: TSIG BAD(KEY|SIG)/],
    ];
    for (const [k, message] of cases) {
      const c = createDnsClient({ dns: dnsConfig(masters, k, tsigLimits), tsigSecret: secretOf(k) });
      const err = await c
        .setAddresses([
          { name: "badkey.example.org", a: ["192.0.2.1"], aaaa: [], expect: { a: [], aaaa: [] } },
        ])
        .catch((e: unknown) => e);
      expectTsigRejected(err, message);
      expect((err as Error).message).not.toContain(k.secret);
    }
    expect(await dig(ctx.port(), "badkey.example.org", "A")).toEqual([]);
  });

  it(skewTitle, async () => {
    const key = ctx.key();
    const c = createDnsClient({
      dns: dnsConfig([{ host: "127.0.0.1", port: ctx.port() }], key, tsigLimits),
      tsigSecret: secretOf(key),
      clock: () => Date.now() + 3_600_000,
    });
    const err = await c
      .setAddresses([{ name: "skew.example.org", a: ["192.0.2.1"], aaaa: [], expect: { a: [], aaaa: [] } }])
      .catch((e: unknown) => e);
    expectTsigRejected(err, /BADTIME: clocks differ by -(3599|3600|3601) s \(server behind\)/);
    expect(await dig(ctx.port(), "skew.example.org", "A")).toEqual([]);
  });
}

/** The TTLs of a name's A and TXT records as the master serves them (dig, not our client). */
async function answerTtls(port: number, name: string): Promise<Record<"A" | "TXT", number[]>> {
  return { A: await ttlsAt(port, name, "A"), TXT: await ttlsAt(port, name, "TXT") };
}
