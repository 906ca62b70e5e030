import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkDns } from "../../lib/doctor/check-dns.ts";
import type { Finding } from "../../lib/doctor/types.ts";
import { dnsConfig, master, secretOf, ZONE } from "../dns/fixtures.ts";
import { startKnot } from "../support/knot.ts";
import { type DnsDaemon, dig, generateTsigKey, type TsigKeyFixture } from "../support/named.ts";
import { startPowerDns } from "../support/pdns.ts";
import { missing } from "../support/requirements.ts";

// doctor's update probe (lib/doctor/dns-probe.ts: an UPDATE whose
// prerequisite is that a random name is absent, deleting that name's A, AAAA
// and TXT) against the two other servers the guide supports: a key the zone
// lets update is reported so, a key the server knows but the zone does not
// let update is reported refused, and neither changes the zone.

interface Server {
  name: string;
  bins: string[];
  /** `other`: known to the server, not allowed to update; `stranger`: one it does not accept at all. */
  start(allowed: TsigKeyFixture, other: TsigKeyFixture, stranger: TsigKeyFixture): Promise<DnsDaemon>;
  /** What doctor's hint must say for `stranger`. */
  strangerHint: RegExp;
}

const servers: Server[] = [
  {
    name: "Knot DNS (knotd)",
    bins: ["knotd", "tsig-keygen", "dig"],
    start: (allowed, other, stranger) =>
      startKnot({ zone: ZONE, keys: [allowed], transferKeys: [other], unusedKeys: [stranger] }),
    // knot.conf defines it, but no acl names it: knotd answers BADKEY as for an unknown key.
    strangerHint: /does not know key "stranger-key" \(hmac-sha256\): .*Knot: and to an acl of example\.org/,
  },
  {
    name: "PowerDNS (pdns_server, gsqlite3)",
    bins: ["pdns_server", "pdnsutil", "sqlite3", "tsig-keygen", "dig"],
    start: (allowed, other) => startPowerDns({ zone: ZONE, key: allowed, otherKeys: [other] }),
    // Never imported: PowerDNS answers NOTAUTH without a TSIG.
    strangerHint:
      /did not verify with key "stranger-key" \(hmac-sha256\): check the key's name, secret and algorithm/,
  },
];

const updateFindings = (fs: Finding[]) =>
  fs.filter((f) => f.check === "dns-update").map((f) => [f.status, f.message]);

for (const server of servers) {
  describe.skipIf(missing({ bins: server.bins }))(`doctor's update probe against ${server.name}`, () => {
    let daemon: DnsDaemon;
    let allowed: TsigKeyFixture;
    let other: TsigKeyFixture;
    let stranger: TsigKeyFixture;
    const serial = async () => (await dig(daemon.port, ZONE, "SOA"))[0]?.split(" ")[2];
    const doctor = (key: TsigKeyFixture) => checkDns(dnsConfig([master(daemon.port)], key), secretOf(key));

    beforeAll(async () => {
      allowed = await generateTsigKey("pvemigrate-key");
      other = await generateTsigKey("readonly-key");
      stranger = await generateTsigKey("stranger-key");
      daemon = await server.start(allowed, other, stranger);
    }, 30_000);
    afterAll(async () => daemon?.stop());

    it("a key the zone lets update: ok, and the zone's serial stays", async () => {
      const before = await serial();
      const findings = await doctor(allowed);
      expect(updateFindings(findings)).toEqual([
        ["ok", `key "pvemigrate-key" may update ${ZONE} at 127.0.0.1:${daemon.port}`],
      ]);
      expect(findings.filter((f) => f.status !== "ok")).toEqual([]);
      expect(await serial()).toBe(before);
    });

    it("a key the server knows but the zone does not let update: refused, naming the rcode", async () => {
      const before = await serial();
      const findings = await doctor(other);
      expect(updateFindings(findings)).toEqual([
        [
          "fail",
          expect.stringMatching(
            new RegExp(
              `^key "readonly-key" may not update ${ZONE} at 127\\.0\\.0\\.1:${daemon.port} \\((REFUSED|NOTAUTH)\\)$`,
            ),
          ),
        ],
      ]);
      expect(findings.find((f) => f.check === "dns-update")?.hint).toContain(
        `PowerDNS: pdnsutil add-meta ${ZONE} TSIG-ALLOW-DNSUPDATE readonly-key`,
      );
      // The key itself is fine: the SOA it signed verified.
      expect(findings.filter((f) => f.check === "dns").map((f) => f.status)).toEqual(["ok"]);
      expect(await serial()).toBe(before);
    });

    it("a key the server does not accept at all: the SOA check fails with the server's own cause, no update is tried", async () => {
      const before = await serial();
      const findings = await doctor(stranger);
      expect(findings.map((f) => [f.check, f.status])).toEqual([["dns", "fail"]]);
      expect(findings[0]?.hint).toMatch(server.strangerHint);
      expect(await serial()).toBe(before);
    });
  });
}
