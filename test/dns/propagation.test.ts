import { describe, expect, it } from "vitest";
import type { DnsConfig } from "../../lib/config/types.ts";
import { createDnsClient } from "../../lib/dns/client.ts";
import { dig, startNamedPrimary } from "../support/named.ts";
import { missing } from "../support/requirements.ts";
import { dnsConfig, OWNER, secretOf, ZONE } from "./fixtures.ts";
import { propagationWorld } from "./propagation-world.ts";

// Does anyone follow? Real BIND on three loopback addresses sharing one port
// (so the zone's NS records can name them, as port 53 would in production;
// propagation-world.ts adds the addresses to lo and removes them after):
//   127.0.0.1  the primary (SOA MNAME ns1), NOTIFYing
//   127.0.0.2  a real secondary (AXFR/IXFR on NOTIFY), forwarding updates
//   127.0.0.3  an independent primary of the same zone that never hears of
//              our writes (two master candidates that do not replicate)
// plus an NS ns4 at 192.0.2.53 that the allow-list must keep us from asking.
// named runs with `notify explicit`, so it never contacts ns4 either.

const OURS = `heritage=pvemigrate-dns,owner=${OWNER}`;

describe.skipIf(missing({ bins: ["named", "tsig-keygen", "dig"] }))(
  "propagation and the primary, BIND",
  () => {
    const nameServers = [
      { name: "ns1", address: "127.0.0.1" },
      { name: "ns2", address: "127.0.0.2" },
      { name: "ns3", address: "127.0.0.3" },
      { name: "ns4", address: "192.0.2.53" },
    ];
    const records = ["moving IN A 192.0.2.80", `moving IN TXT "${OURS}"`];
    const world = propagationWorld({
      primary: ({ key, port, notifyTo }) =>
        startNamedPrimary({
          zone: ZONE,
          keys: [key],
          host: "127.0.0.1",
          port,
          nameServers,
          records,
          notifyTo,
        }),
      stray: { nameServers, records },
    });
    const { settings } = world;
    const at = (host: string) => ({ host, port: world.port });
    const client = (hosts: string[], overrides: Partial<DnsConfig> = {}) =>
      createDnsClient({
        dns: dnsConfig(hosts.map(at), world.key, overrides),
        tsigSecret: secretOf(world.key),
      });

    it("the SOA MNAME's server (the primary) takes the update first, though listed after the secondary", async () => {
      const r = await client(["127.0.0.2", "127.0.0.1"]).setAddresses([
        { name: "first.example.org", a: ["192.0.2.90"], aaaa: [], expect: { a: [], aaaa: [] } },
      ]);
      expect(r.acceptedBy).toEqual([`127.0.0.1:${world.port}`]);
      expect(await dig(world.port, "first.example.org", "A", "127.0.0.1")).toEqual(["192.0.2.90"]);
    });

    it("every master and the allowed NS set answer the new address after a write; the time it took is measured; an NS outside the allow-list is never asked", async () => {
      const c = client(["127.0.0.1"], {
        propagation: settings({ allow: ["127.0.0.1/32", "127.0.0.2/32"] }),
      });
      await c.setAddresses([
        { name: "agree.example.org", a: ["192.0.2.91"], aaaa: [], expect: { a: [], aaaa: [] } },
      ]);
      const r = await c.awaitPropagation([
        { name: "agree.example.org", expected: { a: ["192.0.2.91"], aaaa: [] } },
      ]);
      expect(r).toMatchObject({ agreed: true, lagging: [], unreachable: [] });
      // ns1 is the master itself (asked once, signed); ns2 the NOTIFYed secondary, asked on the NS port.
      expect(r.asked).toEqual([`127.0.0.1:${world.port}`, `127.0.0.2:${world.port}`]);
      expect(r.skipped.map((s) => s.address)).toEqual(["127.0.0.3", "192.0.2.53"]);
      expect(r.skipped[1]?.reason).toBe("NS ns4.example.org: outside dns.propagation.allow, not asked");
      expect(r.elapsedMs).toBeGreaterThanOrEqual(0);
      expect(await dig(world.port, "agree.example.org", "A", "127.0.0.2")).toEqual(["192.0.2.91"]);
    });

    it("a server that still answers the old address is named, with its answer", async () => {
      const c = client(["127.0.0.1"], { propagation: settings({}) });
      const moved = await c.setAddresses([
        { name: "moving.example.org", a: ["192.0.2.81"], aaaa: [], expect: { a: ["192.0.2.80"], aaaa: [] } },
      ]);
      expect(moved.outcomes[0]).toMatchObject({ status: "updated" });
      const expectation = [{ name: "moving.example.org", expected: { a: ["192.0.2.81"], aaaa: [] } }];
      // The NOTIFYed secondary follows (a bounded wait) ...
      const followers = client(["127.0.0.1"], { propagation: settings({ allow: ["127.0.0.2/32"] }) });
      expect((await followers.awaitPropagation(expectation)).agreed).toBe(true);
      // ... the stray primary never does: named with the address it still answers.
      const r = await c.awaitPropagation(expectation, 300);
      expect(r.agreed).toBe(false);
      expect(r.lagging).toEqual([
        {
          server: `127.0.0.3:${world.port}`,
          name: "moving.example.org",
          answer: ["192.0.2.80"],
          expected: ["192.0.2.81"],
        },
      ]);
      expect(r.asked).toContain(`127.0.0.2:${world.port}`);
    });

    it("listed servers are asked without any NS lookup; nothing outside them is", async () => {
      const c = client(["127.0.0.1"], {
        propagation: settings({ nameServers: false, servers: [at("127.0.0.3")] }),
      });
      const r = await c.checkPropagation([
        { name: "legacy-none.example.org", expected: { a: [], aaaa: [] } },
      ]);
      expect(r).toMatchObject({
        agreed: true,
        asked: [`127.0.0.1:${world.port}`, `127.0.0.3:${world.port}`],
        skipped: [],
      });
    });
  },
);
