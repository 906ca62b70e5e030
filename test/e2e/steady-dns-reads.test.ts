import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reconcile } from "../../lib/orchestrate/reconcile.ts";
import type { Runtime } from "../../lib/orchestrate/runtime.ts";
import { ZONE_READS_FILE } from "../../lib/state/zone-reads.ts";
import { dig } from "../support/named.ts";
import { missing } from "../support/requirements.ts";
import { type Harness, startHarness } from "./harness.ts";

// Issue 16 floor 3: a steady reconcile does not read names whose answer
// cannot have changed. The zone's SOA serial at the master changes with every
// change to the zone (RFC 2136 3.7), so one SOA query tells whether the last
// run's reads still hold; a change by anyone reads everything again, and a
// full read is due every dns.fullReadMinutes whatever the serial says (a zone
// file edited and reloaded without a bump). Real BIND; queries counted.

const GUESTS = [201, 202, 203, 204];
const NAMES = GUESTS.map((vmid) => `g${vmid}.example.org`);
const PVE1 = "203.0.113.10";
const MIN = 60_000;

/** A runtime of pve1 whose SOA and name reads are counted. */
function counted(h: Harness): { rt: Runtime; soa: () => number; names: () => number; order: string[] } {
  const rt = h.runtime("pve1");
  const dns = rt.dns;
  let soa = 0;
  let names = 0;
  const order: string[] = [];
  Object.defineProperty(rt, "dns", {
    value: {
      ...dns,
      querySoa: (...args: Parameters<typeof dns.querySoa>) => {
        soa++;
        order.push("SOA");
        return dns.querySoa(...args);
      },
      query: (...args: Parameters<typeof dns.query>) => {
        names++;
        order.push("name");
        return dns.query(...args);
      },
    },
  });
  return { rt, soa: () => soa, names: () => names, order };
}

describe.skipIf(missing({ bins: ["named", "dig", "tsig-keygen"] }))(
  "steady runs and the zone's serial",
  () => {
    let h: Harness;
    let recordFile: string;
    /** Someone else's write (another tool, an admin's nsupdate): it bumps the serial. */
    const otherWrite = (name: string, a: string) =>
      h.runtime("pve2").dns.setAddresses([{ name, a: [a], aaaa: [] }]);
    const run = async () => {
      const c = counted(h);
      const r = await reconcile(c.rt);
      expect(r.errors).toEqual([]);
      return { soa: c.soa(), names: c.names(), order: c.order, outcomes: r.dns?.outcomes ?? [] };
    };

    beforeAll(async () => {
      h = await startHarness({
        secondary: false,
        sim: { vms: GUESTS.map((vmid) => ({ vmid, node: "pve1" })) },
        config: (doc) => {
          doc.vms = Object.fromEntries(
            GUESTS.map((vmid) => [vmid, { ip: `10.10.${vmid - 200}.1`, dns: [`g${vmid}.example.org`] }]),
          );
        },
      });
      recordFile = join(h.runtime("pve1").config.stateDir, ZONE_READS_FILE);
      // The first run writes the names (the serial moves on), the second reads them as written.
      await run();
      await run();
    }, 60_000);
    afterAll(async () => h?.stop());

    it("a steady run sends one SOA query and reads no name, and plans the same as a full read", async () => {
      const steady = await run();
      expect(steady).toMatchObject({ soa: 1, names: 0 });
      expect(steady.outcomes.map((o) => [o.name, o.status])).toEqual(NAMES.map((n) => [n, "unchanged"]));
    }, 30_000);

    it("another name of the zone changed by someone else bumps the serial: everything is read again", async () => {
      await otherWrite("elsewhere.example.org", "192.0.2.50");
      expect(await run()).toMatchObject({ soa: 1, names: NAMES.length });
      expect(await run()).toMatchObject({ names: 0 });
    }, 30_000);

    it("one of our names changed by someone else is read and repaired by the next run", async () => {
      await otherWrite("g202.example.org", "192.0.2.99");
      const r = await run();
      expect(r.names).toBe(NAMES.length);
      expect(r.outcomes.find((o) => o.name === "g202.example.org")?.status).toBe("updated");
      expect(await dig(h.primary.port, "g202.example.org", "A")).toEqual([PVE1]);
    }, 30_000);

    it("a name changed without a serial bump is repaired once dns.fullReadMinutes (10) has passed", async () => {
      await run(); // after the repair's own write: a full read, recorded
      const recorded = JSON.parse(await readFile(recordFile, "utf8"));
      await otherWrite("g203.example.org", "192.0.2.98");
      // As if the zone file had been edited and reloaded without a bump: the serial is the recorded one.
      const serial = (await h.runtime("pve2").dns.querySoa()).serial;
      // The record's age is set in the file: the run's clock also signs its queries (TSIG time).
      const aged = (minutes: number) =>
        writeFile(recordFile, JSON.stringify({ ...recorded, serial, readAt: Date.now() - minutes * MIN }));
      await aged(9);
      expect(await run()).toMatchObject({ soa: 1, names: 0 });
      // Within the bound the last read stands (the price of the shortcut) ...
      expect(await dig(h.primary.port, "g203.example.org", "A")).toEqual(["192.0.2.98"]);
      // ... after it, everything is read and the name repaired.
      await aged(10);
      const after = await run();
      expect(after.names).toBe(NAMES.length);
      expect(after.outcomes.find((o) => o.name === "g203.example.org")?.status).toBe("updated");
      expect(await dig(h.primary.port, "g203.example.org", "A")).toEqual([PVE1]);
    }, 30_000);

    it("a corrupt or tampered record is no record: everything is read, and recorded afresh", async () => {
      await run();
      expect(await run()).toMatchObject({ names: 0 });
      const good = await readFile(recordFile, "utf8");
      await writeFile(recordFile, good.slice(0, good.length / 2));
      expect(await run()).toMatchObject({ soa: 1, names: NAMES.length });
      expect(await run()).toMatchObject({ names: 0 });
      // Valid JSON with an address changed: its digest no longer matches its names.
      await writeFile(recordFile, (await readFile(recordFile, "utf8")).replace(PVE1, "192.0.2.97"));
      expect(await run()).toMatchObject({ names: NAMES.length });
    }, 30_000);

    it("a changed dns.ownerId is judged on the recorded TXT, as a full read judges it: nothing is ours now", async () => {
      expect(await run()).toMatchObject({ names: 0 });
      const c = counted(h);
      const dns = { ...c.rt.config.dns, ownerId: "another-owner" };
      const r = await reconcile({ ...c.rt, config: { ...c.rt.config, dns } });
      expect(c.names()).toBe(0); // the serial is unchanged: the recorded reads are used
      expect(r.dns?.outcomes.map((o) => [o.name, o.status])).toEqual(NAMES.map((n) => [n, "not-owned"]));
      expect(await dig(h.primary.port, "g201.example.org", "A")).toEqual([PVE1]);
    }, 30_000);

    it("reads made with one TSIG key are not reused for another (BIND views chosen by key): everything is read", async () => {
      expect(await run()).toMatchObject({ names: 0 });
      // Only the key's name in the config changes: the client, made from the first config,
      // still signs with the key BIND knows, so the run succeeds; its reads count as another key's.
      const withKey = (name: string) => {
        const c = counted(h);
        const dns = { ...c.rt.config.dns, tsig: { ...c.rt.config.dns.tsig, name } };
        return { c, rt: { ...c.rt, config: { ...c.rt.config, dns } } };
      };
      const other = withKey("another-view-key");
      expect((await reconcile(other.rt)).errors).toEqual([]);
      expect(other.c.names()).toBe(NAMES.length);
      // Back to the first key: the record is of the other one now, so everything is read again.
      expect(await run()).toMatchObject({ soa: 1, names: NAMES.length });
      expect(await run()).toMatchObject({ names: 0 });
    }, 30_000);
  },
);
