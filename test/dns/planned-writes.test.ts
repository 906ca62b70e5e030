import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDnsClient } from "../../lib/dns/client.ts";
import { planWithdrawal } from "../../lib/dns/withdraw.ts";
import { planDns } from "../../lib/plan/dns.ts";
import {
  type DnsDaemon,
  dig,
  generateTsigKey,
  startNamedPrimary,
  type TsigKeyFixture,
} from "../support/named.ts";
import { missing } from "../support/requirements.ts";
import { dnsConfig, master, secretOf, ZONE } from "./fixtures.ts";

// The DNS plan is applied as it is (issue 17): applyWrites sends the plan's
// compare-and-swap writes and never plans again. A name changed between the
// plan's read and the write fails its prerequisites at real BIND (NXRRSET)
// and comes back "stale", unchanged, for the next run to plan afresh. The
// same holds for a withdrawal: deleted only as the plan read the name.

describe.skipIf(missing({ bins: ["named", "tsig-keygen", "dig"] }))("planned writes against BIND 9", () => {
  let primary: DnsDaemon;
  let key: TsigKeyFixture;
  beforeAll(async () => {
    key = await generateTsigKey("pvemigrate-key");
    primary = await startNamedPrimary({ zone: ZONE, keys: [key] });
  });
  afterAll(async () => primary?.stop());

  const client = () =>
    createDnsClient({ dns: dnsConfig([master(primary.port)], key), tsigSecret: secretOf(key) });
  const name = `planned.${ZONE}`;

  it("a name changed after the plan's read stays as the other writer left it, reported stale", async () => {
    const dns = client();
    const claim = { vmid: 101, origin: "file" as const };
    await dns.setAddresses([{ name, a: ["192.0.2.1"], aaaa: [], claim }]);
    const settings = { ownerId: dnsConfig([master(primary.port)], key).ownerId, zone: ZONE };
    const want = [{ vmid: 101, name, a: ["192.0.2.2"], aaaa: [], ttl: 60, claim }];
    const plan = planDns(want, new Map([[name, await dns.query(name)]]), settings);
    expect(plan.writes).toHaveLength(1);

    // Someone else moves the name between our read and our write.
    await dns.setAddresses([{ name, a: ["192.0.2.3"], aaaa: [], claim }]);
    const r = await dns.applyWrites(plan.writes);
    expect(r.outcomes).toEqual([
      expect.objectContaining({ name, status: "stale", actual: { a: ["192.0.2.3"], aaaa: [] } }),
    ]);
    expect(await dig(primary.port, name, "A")).toEqual(["192.0.2.3"]);

    // Planned afresh, the write goes through.
    const again = planDns(want, new Map([[name, await dns.query(name)]]), settings);
    expect((await dns.applyWrites(again.writes)).outcomes).toEqual([
      expect.objectContaining({ name, status: "updated", a: ["192.0.2.2"] }),
    ]);
    expect(await dig(primary.port, name, "A")).toEqual(["192.0.2.2"]);
  });

  it("a withdrawal planned from a read is sent as planned: the name moved since (still the guest's) stays, stale, until the next plan", async () => {
    const dns = client();
    const claim = { vmid: 102, origin: "notes" as const };
    const gone = `withdrawn.${ZONE}`;
    await dns.setAddresses([{ name: gone, a: ["192.0.2.1"], aaaa: [], claim }]);
    const ownerId = dnsConfig([master(primary.port)], key).ownerId;
    const planned = planWithdrawal(gone, 102, await dns.query(gone), ownerId);
    expect(planned.status).toBe("send");

    // The guest's name is moved (the same VM's claim) between the plan's read and the delete.
    await dns.setAddresses([{ name: gone, a: ["192.0.2.3"], aaaa: [], claim }]);
    expect(await dns.applyWithdrawal(planned)).toMatchObject({ name: gone, status: "stale" });
    expect(await dig(primary.port, gone, "A")).toEqual(["192.0.2.3"]);

    // Planned afresh, the withdrawal goes through.
    const again = planWithdrawal(gone, 102, await dns.query(gone), ownerId);
    expect(await dns.applyWithdrawal(again)).toMatchObject({ name: gone, status: "withdrawn" });
    expect(await dig(primary.port, gone, "A")).toEqual([]);
  });
});
