import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDnsClient } from "../../lib/dns/client.ts";
import { startKnot } from "../support/knot.ts";
import { type DnsDaemon, dig, generateTsigKey, type TsigKeyFixture } from "../support/named.ts";
import { missing } from "../support/requirements.ts";
import { ambiguousOutcomeCases } from "./ambiguous-cases.ts";
import { safeWriteCases } from "./cases.ts";
import { claimCases } from "./claim-cases.ts";
import { closedPort } from "./fake-servers.ts";
import { dnsConfig, master, secretOf, ZONE } from "./fixtures.ts";

// Knot DNS: an independent implementation of RFC 2136 and TSIG running the
// same safe-write cases as BIND, so the client is not merely BIND-compatible.

describe.skipIf(missing({ bins: ["knotd", "tsig-keygen", "dig"] }))("DNS engine against Knot DNS", () => {
  let knot: DnsDaemon;
  let key: TsigKeyFixture;
  const client = () =>
    createDnsClient({ dns: dnsConfig([master(knot.port)], key), tsigSecret: secretOf(key) });

  beforeAll(async () => {
    key = await generateTsigKey("pvemigrate-key", "hmac-sha384");
    knot = await startKnot({ zone: ZONE, keys: [key], records: ["legacy IN A 192.0.2.7"] });
  });
  afterAll(async () => {
    await knot?.stop();
  });

  safeWriteCases({ port: () => knot.port, key: () => key, client, lateAnswers: true });

  describe("guest names: ownership by VM, withdrawal", () => {
    claimCases({ port: () => knot.port, key: () => key, client, lateAnswers: true });
  });

  describe("ambiguous outcomes are read back", () => {
    ambiguousOutcomeCases({ port: () => knot.port, key: () => key, lateAnswers: true });
  });

  it("falls back from a refused candidate to knotd", async () => {
    const c = createDnsClient({
      dns: dnsConfig([master(await closedPort()), master(knot.port)], key),
      tsigSecret: secretOf(key),
    });
    const r = await c.setAddresses([{ name: "knot-fallback.example.org", a: ["192.0.2.33"], aaaa: [] }]);
    // "unchanged" is the correct outcome too when a busy knotd answered the first
    // attempt after the timeout: the retry finds the update applied and accepts it.
    expect(r.outcomes[0]).toMatchObject({
      master: `127.0.0.1:${knot.port}`,
      status: expect.stringMatching(/^(updated|unchanged)$/),
    });
    expect(await dig(knot.port, "knot-fallback.example.org", "A")).toEqual(["192.0.2.33"]);
  });
});
