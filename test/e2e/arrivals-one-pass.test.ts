import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { NameWrite } from "../../lib/dns/changes.ts";
import { syncDns } from "../../lib/orchestrate/dns-sync.ts";
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
      // pve3 too: its first run ever finds no lock stamps (unknown), so its steps read the cluster again.
      for (const node of ["pve1", "pve2", "pve3"])
        expect((await reconcile(h.runtime(node))).errors).toEqual([]);
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

    it("a steady run reads the cluster once: 2 API requests for its own look, the convergence and the DNS step", async () => {
      // The run before settled everything; this one finds nothing to do.
      expect((await reconcile(h.runtime("pve3"))).errors).toEqual([]);
      const rt = h.runtime("pve3");
      const before = rt.proxmox.stats.requests;
      const from = h.sim.requests.length;
      const listings = vi.spyOn(rt.state.lastApplied, "list");
      const r = await reconcile(rt);
      expect(r.errors).toEqual([]);
      expect(r.switched).toEqual([]);
      // The last-applied records too: listed once (it was three times, two files per guest each).
      expect(listings).toHaveBeenCalledTimes(1);
      // GET /cluster/status and GET /cluster/resources, once.
      expect(rt.proxmox.stats.requests - before).toBe(2);
      expect(h.sim.requests.slice(from).map((q) => q.path)).toEqual([
        "/api2/json/cluster/status",
        "/api2/json/cluster/resources",
      ]);
    }, 60_000);

    it("a steady run whose DNS lock a hook's worker held after its read reads again, and leaves the worker's names alone", async () => {
      const rt = h.runtime("pve3");
      const state = rt.state;
      let worked = false;
      Object.defineProperty(rt, "state", {
        value: {
          ...state,
          withClusterLock: async (name: string, fn: never, opts?: never) => {
            if (name === "dns" && !worked) {
              worked = true;
              // After pve3's run read the cluster: VM 201 went live to pve1, whose worker moved its names there.
              h.sim.moveVm(201, "pve1");
              expect((await syncDns(h.runtime("pve1"), [201])).problems).toEqual([]);
            }
            return state.withClusterLock(name, fn, opts);
          },
        },
      });
      const before = rt.proxmox.stats.requests;
      const r = await reconcile(rt);
      expect(worked).toBe(true);
      expect(r.errors).toEqual([]);
      // The run's own read served its convergence; the DNS step read the cluster again.
      expect(rt.proxmox.stats.requests - before).toBe(4);
      // Not written back to pve3 from the run's older view.
      expect(r.dns?.outcomes.find((o) => o.name === "g201.example.org")?.status).toBe("unchanged");
      expect(await dig(h.primary.port, "g201.example.org", "A")).toEqual(["203.0.113.10"]);
    }, 60_000);
  },
);
