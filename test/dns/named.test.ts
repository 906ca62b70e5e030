import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TsigAlgorithm } from "../../lib/config/types.ts";
import { createDnsClient, type DnsClient } from "../../lib/dns/client.ts";
import { DnsAllMastersFailed, DnsRejected } from "../../lib/dns/errors.ts";
import { exchange } from "../../lib/dns/transport.ts";
import { encodeUpdate } from "../../lib/dns/wire/update.ts";
import { ExitCode, exitCodeOf } from "../../lib/errors.ts";
import {
  type DnsDaemon,
  dig,
  freePort,
  generateTsigKey,
  startNamedPrimary,
  startNamedSecondary,
  type TsigKeyFixture,
} from "../support/named.ts";
import { missing } from "../support/requirements.ts";
import { ambiguousOutcomeCases } from "./ambiguous-cases.ts";
import { safeWriteCases } from "./cases.ts";
import { claimCases } from "./claim-cases.ts";
import { closedPort, type FakeServer, forgingUdp, silentUdp } from "./fake-servers.ts";
import { dnsConfig, master, secretOf, ZONE } from "./fixtures.ts";

// Real BIND 9: a primary with update-policy and TSIG keys from tsig-keygen,
// and a secondary with allow-update-forwarding as a second candidate.

const ALGORITHMS: TsigAlgorithm[] = ["hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"];

describe.skipIf(missing({ bins: ["named", "tsig-keygen", "dig"] }))("DNS engine against BIND 9", () => {
  let primary: DnsDaemon;
  let secondary: DnsDaemon;
  let key: TsigKeyFixture;
  let readOnly: TsigKeyFixture;
  const algKeys: TsigKeyFixture[] = [];
  const fakes: FakeServer[] = [];
  const extra: DnsDaemon[] = [];

  const client = (masters = [master(primary.port)], overrides = {}, k = key): DnsClient =>
    createDnsClient({ dns: dnsConfig(masters, k, overrides), tsigSecret: secretOf(k) });

  beforeAll(async () => {
    key = await generateTsigKey("pvemigrate-key");
    readOnly = await generateTsigKey("readonly-key");
    for (const alg of ALGORITHMS) algKeys.push(await generateTsigKey(`key-${alg}`, alg));
    const secondaryPort = await freePort();
    primary = await startNamedPrimary({
      zone: ZONE,
      keys: [key, ...algKeys],
      readOnlyKeys: [readOnly],
      records: ["legacy IN A 192.0.2.7"],
      notifyPorts: [secondaryPort],
    });
    secondary = await startNamedSecondary({
      zone: ZONE,
      primaryPort: primary.port,
      keys: [key],
      port: secondaryPort,
    });
  });

  afterAll(async () => {
    await Promise.allSettled([...fakes.map((f) => f.close()), ...extra.map((d) => d.stop())]);
    await Promise.allSettled([secondary?.stop(), primary?.stop()]);
  });

  describe("safe writes at the primary", () => {
    safeWriteCases({ port: () => primary.port, key: () => key, client: () => client() });
  });

  describe("guest names: ownership by VM, withdrawal", () => {
    claimCases({ port: () => primary.port, key: () => key, client: () => client() });
  });

  describe("ambiguous outcomes are read back", () => {
    ambiguousOutcomeCases({ port: () => primary.port, key: () => key });
  });

  it.each(ALGORITHMS)("signs with %s and verifies named's signed reply", async (alg) => {
    const k = algKeys.find((x) => x.algorithm === alg) as TsigKeyFixture;
    const r = await client([master(primary.port)], {}, k).setAddresses([
      { name: `alg-${alg}.example.org`, a: ["192.0.2.5"], aaaa: [] },
    ]);
    expect(r.outcomes[0]?.status).toBe("updated");
    expect(await dig(primary.port, `alg-${alg}.example.org`, "A")).toEqual(["192.0.2.5"]);
  });

  it("a key the update-policy does not grant gets REFUSED: final, not retried at the next candidate", async () => {
    const err = await client([master(primary.port), master(secondary.port)], {}, readOnly)
      .setAddresses([{ name: "ro.example.org", a: ["192.0.2.6"], aaaa: [], expect: { a: [], aaaa: [] } }])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DnsRejected);
    expect((err as Error).message).toBe(
      `update ro.example.org: 127.0.0.1:${primary.port} answered REFUSED: the server refuses this request (update-policy / ACL does not allow it)`,
    );
    expect(exitCodeOf(err)).toBe(ExitCode.peer);
    expect(await dig(primary.port, "ro.example.org", "A")).toEqual([]);
  });

  it("an update sent to the secondary is forwarded to the primary", async () => {
    const r = await client([master(secondary.port)]).setAddresses([
      { name: "fwd.example.org", a: ["192.0.2.40"], aaaa: [], expect: { a: [], aaaa: [] } },
    ]);
    expect(r.acceptedBy).toEqual([`127.0.0.1:${secondary.port}`]);
    expect(await dig(primary.port, "fwd.example.org", "A")).toEqual(["192.0.2.40"]);
  });

  it("first candidate silent: the second accepts within one attempt timeout plus a margin", async () => {
    const silent = await silentUdp();
    fakes.push(silent);
    const c = client([master(silent.port), master(secondary.port)]);
    const start = Date.now();
    const r = await c.setAddresses([
      { name: "silent.example.org", a: ["192.0.2.41"], aaaa: [], expect: { a: [], aaaa: [] } },
    ]);
    const elapsed = Date.now() - start;
    expect(silent.received()).toBe(1);
    expect(r.acceptedBy).toEqual([`127.0.0.1:${secondary.port}`]);
    expect(elapsed).toBeLessThan(700 + 600);
    expect(await dig(primary.port, "silent.example.org", "A")).toEqual(["192.0.2.41"]);
  });

  it("without --expect (read, then write) the silent candidate is waited out only once", async () => {
    const silent = await silentUdp();
    fakes.push(silent);
    const c = client([master(silent.port), master(primary.port)]);
    const start = Date.now();
    const r = await c.setAddresses([{ name: "silent-read.example.org", a: ["192.0.2.46"], aaaa: [] }]);
    expect(r.acceptedBy).toEqual([`127.0.0.1:${primary.port}`]);
    // Waited out once: the SOA query that looks for the primary met it first; the
    // read and the update then went to the other candidate.
    expect(silent.received()).toBe(1);
    expect(Date.now() - start).toBeLessThan(700 + 600);
  });

  it("first candidate refusing the connection: immediate fallback", async () => {
    const closed = await closedPort();
    const start = Date.now();
    const r = await client([master(closed), master(primary.port)]).setAddresses([
      { name: "refused.example.org", a: ["192.0.2.42"], aaaa: [], expect: { a: [], aaaa: [] } },
    ]);
    expect(r.acceptedBy).toEqual([`127.0.0.1:${primary.port}`]);
    expect(Date.now() - start).toBeLessThan(500); // no timeout waited: ICMP refused is immediate
    expect(await dig(primary.port, "refused.example.org", "A")).toEqual(["192.0.2.42"]);
  });

  it("all candidates down: a peer error with one line per master; the silent one may have taken it (no read-back could tell)", async () => {
    const silent = await silentUdp();
    fakes.push(silent);
    const closed = await closedPort();
    const err = await client([master(silent.port), master(closed)], { totalTimeoutMs: 1500 })
      .setAddresses([{ name: "down.example.org", a: ["192.0.2.43"], aaaa: [], expect: { a: [], aaaa: [] } }])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DnsAllMastersFailed);
    expect(exitCodeOf(err)).toBe(ExitCode.peer);
    const lines = (err as Error).message.split("\n");
    expect(lines[0]).toBe(
      `update down.example.org: all 2 DNS master candidate(s) failed; it may have been applied at 127.0.0.1:${silent.port} (sent, no trustworthy answer, not confirmed by a read-back)`,
    );
    expect(lines[1]).toMatch(
      new RegExp(
        `^  127\\.0\\.0\\.1:${silent.port}: no answer within \\d+ ms \\(udp\\); read-back failed: no candidate answered`,
      ),
    );
    expect((err as DnsAllMastersFailed).mayHaveApplied).toBe(true);
    expect(lines[2]).toBe(`  127.0.0.1:${closed}: connection refused (udp)`);
    expect((err as DnsAllMastersFailed).failures).toHaveLength(2);
    expect(silent.received()).toBeGreaterThan(1); // backed off and went round again
    expect(await dig(primary.port, "down.example.org", "A")).toEqual([]);
  });

  it("a secondary whose primary is dead answers SERVFAIL: the next candidate is tried", async () => {
    const deadPrimary = await startNamedPrimary({ zone: ZONE, keys: [key] });
    const orphan = await startNamedSecondary({ zone: ZONE, primaryPort: deadPrimary.port, keys: [key] });
    extra.push(orphan, deadPrimary);
    await deadPrimary.stop();
    const alone = await client([master(orphan.port)], { totalTimeoutMs: 1000 })
      .setAddresses([
        { name: "orphan.example.org", a: ["192.0.2.44"], aaaa: [], expect: { a: [], aaaa: [] } },
      ])
      .catch((e: unknown) => e);
    expect((alone as Error).message).toMatch(/SERVFAIL/);
    const r = await client([master(orphan.port), master(primary.port)]).setAddresses([
      { name: "orphan.example.org", a: ["192.0.2.44"], aaaa: [], expect: { a: [], aaaa: [] } },
    ]);
    expect(r.acceptedBy).toEqual([`127.0.0.1:${primary.port}`]);
  });

  it("forged replies (unsigned, or signed with another key) are rejected", async () => {
    const unsigned = await forgingUdp("unsigned");
    const badMac = await forgingUdp({
      signWith: { name: key.name, algorithm: key.algorithm, secret: Buffer.alloc(32, 3) },
    });
    fakes.push(unsigned, badMac);
    const err = await client([master(unsigned.port), master(badMac.port)], { totalTimeoutMs: 500 })
      .setAddresses([
        { name: "forged.example.org", a: ["192.0.2.45"], aaaa: [], expect: { a: [], aaaa: [] } },
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DnsAllMastersFailed);
    expect((err as Error).message).toMatch(/127\.0\.0\.1:\d+: reply rejected: unsigned response/);
    expect((err as Error).message).toMatch(/reply rejected: response TSIG MAC does not verify/);
    // With the real primary behind them, the update lands there and only there.
    const r = await client([master(unsigned.port), master(primary.port)]).setAddresses([
      { name: "forged.example.org", a: ["192.0.2.45"], aaaa: [], expect: { a: [], aaaa: [] } },
    ]);
    expect(r.acceptedBy).toEqual([`127.0.0.1:${primary.port}`]);
  });

  it("the transport uses TCP for a message larger than a UDP datagram", async () => {
    const updates = Array.from({ length: 40 }, (_, i) => ({
      kind: "add" as const,
      name: `tcp${i}.example.org`,
      ttl: 60,
      rdata: { type: "A" as const, address: "192.0.2.9" },
    }));
    // Unsigned: named answers REFUSED (no key), which is enough to see the transport work.
    const msg = encodeUpdate({ id: 4242, zone: ZONE, prerequisites: [], updates });
    expect(msg.length).toBeGreaterThan(512);
    const r = await exchange(master(primary.port), msg, { deadline: Date.now() + 2000 });
    expect(r).toMatchObject({ ok: true, via: "tcp" });
    const small = await exchange(master(primary.port), msg.subarray(0, 29), { deadline: Date.now() + 2000 });
    expect(small).toMatchObject({ ok: true, via: "udp" });
  });
});
