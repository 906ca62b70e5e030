import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DnsPropagation } from "../../lib/config/types.ts";
import { classifyReply } from "../../lib/dns/classify.ts";
import { createDnsClient, type DnsClient } from "../../lib/dns/client.ts";
import { DnsRejected } from "../../lib/dns/errors.ts";
import { OPCODE_UPDATE, RCODE, TYPE } from "../../lib/dns/wire/constants.ts";
import { encodeHeader, encodeQuestion } from "../../lib/dns/wire/rr.ts";
import { ExitCode, exitCodeOf } from "../../lib/errors.ts";
import { type DnsDaemon, dig, generateTsigKey, type TsigKeyFixture } from "../support/named.ts";
import { startPowerDns } from "../support/pdns.ts";
import { missing } from "../support/requirements.ts";
import { ambiguousOutcomeCases } from "./ambiguous-cases.ts";
import { safeWriteCases } from "./cases.ts";
import { claimCases } from "./claim-cases.ts";
import { closedPort, type FakeServer, silentUdp } from "./fake-servers.ts";
import { dnsConfig, master, OWNER, secretOf, ZONE } from "./fixtures.ts";
import { propagationWorld } from "./propagation-world.ts";

// PowerDNS Authoritative (pdns-server + pdns-backend-sqlite3, set up from
// docs/DNS-SERVERS.md): a third implementation of RFC 2136 and TSIG, with a
// prerequisite check of its own (pdns/rfc2136handler.cc), running the same
// safe-write cases as BIND and Knot.

const PDNS_BINS = ["pdns_server", "pdnsutil", "sqlite3", "tsig-keygen", "dig"];

describe("PowerDNS's bare answer to a TSIG it rejects (pure)", () => {
  // What pdns_server 4.7 sends back for an UPDATE with a bad TSIG: QR, opcode UPDATE,
  // REFUSED, the question only, no TSIG record (captured from the real server).
  const bare = (rcode: number) =>
    Buffer.concat([
      encodeHeader(77, (1 << 15) | (OPCODE_UPDATE << 11) | rcode, [1, 0, 0, 0]),
      encodeQuestion(ZONE, TYPE.SOA, 1),
    ]);
  const ctx = {
    id: 77,
    opcode: OPCODE_UPDATE,
    question: { name: "example.org", type: 6, klass: 1 },
    key: { name: "pvemigrate-key", algorithm: "hmac-sha256" as const, secret: Buffer.alloc(32, 1) },
    requestMac: Buffer.alloc(32, 2),
    nowSeconds: 1_800_000_000,
  };

  it("is not trusted (the next candidate is tried) and its message names the likely TSIG causes", () => {
    expect(classifyReply(bare(RCODE.REFUSED), ctx)).toEqual({
      kind: "next",
      // Not trusted, so not proof that nothing changed either: the client reads back.
      ambiguous: true,
      reason:
        "reply rejected: unsigned response (no TSIG record) to a signed request: REFUSED without TSIG, as PowerDNS answers when it rejects the TSIG (key name, secret or algorithm it does not accept, or clocks more than 300 s apart)",
    });
  });

  it("an unsigned NOERROR (a forgery) gets no such hint", () => {
    expect(classifyReply(bare(RCODE.NOERROR), ctx)).toEqual({
      kind: "next",
      ambiguous: true,
      reason: "reply rejected: unsigned response (no TSIG record) to a signed request",
    });
  });
});

describe.skipIf(missing({ bins: PDNS_BINS }))("DNS engine against PowerDNS", () => {
  let pdns: DnsDaemon;
  let key: TsigKeyFixture;
  let notAllowed: TsigKeyFixture;
  const fakes: FakeServer[] = [];
  const client = (masters = [master(pdns.port)], k = key): DnsClient =>
    createDnsClient({ dns: dnsConfig(masters, k), tsigSecret: secretOf(k) });

  beforeAll(async () => {
    key = await generateTsigKey("pvemigrate-key");
    notAllowed = await generateTsigKey("other-key");
    pdns = await startPowerDns({
      zone: ZONE,
      key,
      otherKeys: [notAllowed],
      records: ["legacy IN A 192.0.2.7"],
    });
  });
  afterAll(async () => {
    await Promise.allSettled(fakes.map((f) => f.close()));
    await pdns?.stop();
  });

  // First, while the serial is still the zone file's 1 (PowerDNS's default would make it 2026MMDD01).
  it("the guide's SOA-EDIT-DNSUPDATE INCREASE moves the serial by one per update", async () => {
    const before = await client().querySoa();
    expect(before.serial).toBe(1);
    await client().setAddresses([{ name: "serial.example.org", a: ["192.0.2.3"], aaaa: [] }]);
    expect((await client().querySoa()).serial).toBe(2);
  });

  safeWriteCases({ port: () => pdns.port, key: () => key, client: () => client(), bareTsigRejections: true });

  describe("guest names: ownership by VM, withdrawal", () => {
    claimCases({ port: () => pdns.port, key: () => key, client: () => client() });
  });

  describe("ambiguous outcomes are read back", () => {
    ambiguousOutcomeCases({ port: () => pdns.port, key: () => key });
  });

  it("a key missing from TSIG-ALLOW-DNSUPDATE gets a signed REFUSED: final, nothing changes", async () => {
    const err = await client([master(pdns.port)], notAllowed)
      .setAddresses([{ name: "ro.example.org", a: ["192.0.2.6"], aaaa: [], expect: { a: [], aaaa: [] } }])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DnsRejected);
    expect((err as Error).message).toBe(
      `update ro.example.org: 127.0.0.1:${pdns.port} answered REFUSED: the server refuses this request (update-policy / ACL does not allow it)`,
    );
    expect(exitCodeOf(err)).toBe(ExitCode.peer);
    expect(await dig(pdns.port, "ro.example.org", "A")).toEqual([]);
  });

  it("first candidate silent: PowerDNS, the second, accepts the update", async () => {
    const silent = await silentUdp();
    fakes.push(silent);
    const r = await client([master(silent.port), master(pdns.port)]).setAddresses([
      { name: "pdns-silent.example.org", a: ["192.0.2.41"], aaaa: [], expect: { a: [], aaaa: [] } },
    ]);
    expect(silent.received()).toBe(1);
    expect(r.acceptedBy).toEqual([`127.0.0.1:${pdns.port}`]);
    expect(r.outcomes[0]).toMatchObject({ status: "updated", master: `127.0.0.1:${pdns.port}` });
    expect(await dig(pdns.port, "pdns-silent.example.org", "A")).toEqual(["192.0.2.41"]);
  });

  it("first candidate refusing the connection: PowerDNS takes over a compare-and-swap move", async () => {
    await client().setAddresses([{ name: "pdns-move.example.org", a: ["192.0.2.50"], aaaa: [] }]);
    const r = await client([master(await closedPort()), master(pdns.port)]).setAddresses([
      { name: "pdns-move.example.org", a: ["192.0.2.51"], aaaa: [], expect: { a: ["192.0.2.50"], aaaa: [] } },
    ]);
    expect(r.outcomes[0]).toMatchObject({ status: "updated", master: `127.0.0.1:${pdns.port}` });
    expect(await dig(pdns.port, "pdns-move.example.org", "A")).toEqual(["192.0.2.51"]);
  });
});

// The propagation check with PowerDNS as the master: the zone's NS set is
// resolved at PowerDNS (signed), and a BIND secondary that PowerDNS NOTIFYs
// (a primary zone with also-notify) must answer the new address before the
// check agrees. Both listen on one port, as name servers share port 53.
describe.skipIf(missing({ bins: [...PDNS_BINS, "named"], root: true }))(
  "propagation check, PowerDNS primary",
  () => {
    const world = propagationWorld({
      primary: ({ key, port, notifyTo }) =>
        startPowerDns({
          zone: ZONE,
          key,
          port,
          records: ["moving IN A 192.0.2.80", `moving IN TXT "heritage=pvemigrate-dns,owner=${OWNER}"`],
          nameServers: [
            { name: "ns1", address: "127.0.0.1" },
            { name: "ns2", address: "127.0.0.2" },
            { name: "ns3", address: "192.0.2.53" },
          ],
          notifyTo,
        }),
      /** An independent BIND primary of the zone that PowerDNS never NOTIFYs. */
      stray: { records: ["stale IN A 192.0.2.70"] },
    });
    const { settings } = world;
    const client = (propagation: DnsPropagation) =>
      createDnsClient({
        dns: dnsConfig([master(world.primary.port)], world.key, { propagation }),
        tsigSecret: secretOf(world.key),
      });

    it("after a compare-and-swap move at PowerDNS, its NOTIFYed secondary agrees; an NS outside the allow-list is never asked", async () => {
      const c = client(settings({}));
      const moved = await c.setAddresses([
        { name: "moving.example.org", a: ["192.0.2.81"], aaaa: [], expect: { a: ["192.0.2.80"], aaaa: [] } },
      ]);
      expect(moved.outcomes[0]).toMatchObject({ status: "updated" });
      const r = await c.awaitPropagation([
        { name: "moving.example.org", expected: { a: ["192.0.2.81"], aaaa: [] } },
      ]);
      expect(r).toMatchObject({ agreed: true, lagging: [], unreachable: [] });
      // ns1 is PowerDNS itself (the master, asked once, signed); ns2 the BIND secondary.
      expect(r.asked).toEqual([`127.0.0.1:${world.port}`, `127.0.0.2:${world.port}`]);
      expect(r.skipped.map((s) => s.address)).toEqual(["192.0.2.53"]);
      expect(await dig(world.port, "moving.example.org", "A", "127.0.0.2")).toEqual(["192.0.2.81"]);
    });

    it("a server that never hears of the change is named with the address it still answers", async () => {
      const c = client(settings({ nameServers: false, servers: [{ host: "127.0.0.3", port: world.port }] }));
      await c.setAddresses([{ name: "stale.example.org", a: ["192.0.2.71"], aaaa: [] }]);
      const r = await c.awaitPropagation(
        [{ name: "stale.example.org", expected: { a: ["192.0.2.71"], aaaa: [] } }],
        300,
      );
      expect(r.agreed).toBe(false);
      expect(r.lagging).toEqual([
        {
          server: `127.0.0.3:${world.port}`,
          name: "stale.example.org",
          answer: ["192.0.2.70"],
          expected: ["192.0.2.71"],
        },
      ]);
    });
  },
);
