import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NameWrite } from "../../lib/dns/changes.ts";
import { reconcile } from "../../lib/orchestrate/reconcile.ts";
import type { Runtime } from "../../lib/orchestrate/runtime.ts";
import { dig } from "../support/named.ts";
import { missing } from "../support/requirements.ts";
import { type Harness, startHarness } from "./harness.ts";

// Issue 16 floor 3: guests that arrived on a node without a hook (offline
// migration, HA recovery) are converged by its reconcile in one pass: the
// cluster read, the node's convergence and the DNS writes happen once for
// all of them, so what the run costs in API requests and UPDATE rounds does
// not grow with how many arrived (one by one it cost a cluster read, a lock,
// an ssh and an UPDATE each). Counted, not timed.

const GUESTS = Array.from({ length: 12 }, (_, i) => 201 + i);
const fromOf = (vmid: number) => (vmid % 2 === 0 ? "pve1" : "pve2");

/** A runtime whose DNS writes are counted (each applyWrites call is one batched round of UPDATEs). */
function counted(rt: Runtime): { rt: Runtime; writeRounds: () => number; namesWritten: () => number } {
  const dns = rt.dns;
  let rounds = 0;
  let names = 0;
  Object.defineProperty(rt, "dns", {
    value: {
      ...dns,
      applyWrites: (writes: readonly NameWrite[]) => {
        rounds++;
        names += writes.length;
        return dns.applyWrites(writes);
      },
    },
  });
  return { rt, writeRounds: () => rounds, namesWritten: () => names };
}

describe.skipIf(missing({ bins: ["named", "dig", "tsig-keygen"] }))(
  "guests that arrived without hooks: one pass",
  () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness({
        secondary: false,
        sim: { vms: GUESTS.map((vmid) => ({ vmid, node: fromOf(vmid) })) },
        config: (doc) => {
          doc.vms = Object.fromEntries(
            GUESTS.map((vmid) => [vmid, { ip: `10.10.${vmid - 200}.1`, dns: [`g${vmid}.example.org`] }]),
          );
        },
      });
      for (const node of ["pve1", "pve2"]) expect((await reconcile(h.runtime(node))).errors).toEqual([]);
    }, 60_000);
    afterAll(async () => h?.stop());

    /** Moves `vmids` to pve3 without a hook, reconciles pve3: what that run cost. */
    async function arrive(vmids: number[]) {
      for (const vmid of vmids) h.sim.moveVm(vmid, "pve3");
      const c = counted(h.runtime("pve3"));
      const before = c.rt.proxmox.stats.requests;
      const r = await reconcile(c.rt);
      expect(r.errors).toEqual([]);
      expect(r.pending).toEqual([]);
      expect(r.switched.map((s) => [s.vmid, s.from, s.to])).toEqual(vmids.map((v) => [v, fromOf(v), "pve3"]));
      for (const vmid of vmids)
        expect(await dig(h.primary.port, `g${vmid}.example.org`, "A")).toEqual(["203.0.113.30"]);
      return {
        requests: c.rt.proxmox.stats.requests - before,
        writeRounds: c.writeRounds(),
        names: c.namesWritten(),
      };
    }

    it("2 and then 8 arrived guests cost the same API requests and one round of UPDATEs each time", async () => {
      const two = await arrive([201, 202]);
      const eight = await arrive(GUESTS.slice(2, 10));
      expect(two.names).toBe(2);
      expect(eight.names).toBe(8);
      // Every name in one batched round of compare-and-swap UPDATEs (lib/dns/write.ts packs them per zone).
      expect(two.writeRounds).toBe(1);
      expect(eight.writeRounds).toBe(1);
      // The same cluster reads whatever the count: nothing per guest.
      expect(eight.requests).toBe(two.requests);
    }, 60_000);
  },
);
