import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reconcile } from "../../lib/orchestrate/reconcile.ts";
import { switchVm } from "../../lib/orchestrate/switch.ts";
import { dig } from "../support/named.ts";
import { missing } from "../support/requirements.ts";
import { type Harness, startHarness } from "./harness.ts";

describe.skipIf(missing({ bins: ["named", "dig", "tsig-keygen"] }))(
  "orchestrator on the simulated cluster",
  () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness();
    }, 60_000);
    afterAll(async () => h?.stop());

    it("reconcile on each node points the names of its VMs at it", async () => {
      const r1 = await reconcile(h.runtime("pve1"));
      expect(r1.errors).toEqual([]);
      await reconcile(h.runtime("pve2"));
      expect(await dig(h.primary.port, "mail.example.org", "A")).toEqual(["203.0.113.10"]);
      expect(await dig(h.primary.port, "shop.example.org", "A")).toEqual(["203.0.113.20"]);
    });

    it("a VM moved without a hook is switched by the new node's reconcile", async () => {
      h.sim.moveVm(101, "pve3");
      const r = await reconcile(h.runtime("pve3"));
      expect(r.switched.map((s) => [s.vmid, s.from, s.to])).toEqual([[101, "pve1", "pve3"]]);
      // The switch report says when both masters (the primary and its NOTIFYed secondary) agreed.
      const p = r.switched[0]?.dns?.value?.propagation;
      expect(p).toMatchObject({ agreed: true, lagging: [], unreachable: [] });
      expect(p?.asked).toEqual([`127.0.0.1:${h.primary.port}`, `127.0.0.1:${h.secondary?.port}`]);
      expect(r.switched[0]?.dns?.value?.lines).toContainEqual(
        expect.stringMatching(/^propagation: all 2 server\(s\) answer the new address after \d+ ms/),
      );
      expect(await dig(h.primary.port, "mail.example.org", "A")).toEqual(["203.0.113.30"]);
      expect(await dig(h.primary.port, "mail.example.org", "AAAA")).toEqual(["2001:db8::30"]);
    });

    it("switching again is a no-op", async () => {
      const r = await switchVm(h.runtime("pve3"), 101);
      expect(r.pending).toEqual([]);
      expect(r.dns?.value?.lines).toEqual([]);
      expect(r.dns?.value?.propagation).toBeUndefined(); // nothing written, nothing to wait for
    });
  },
);
