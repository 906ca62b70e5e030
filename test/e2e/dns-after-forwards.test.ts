import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config/load.ts";
import { reconcile } from "../../lib/orchestrate/reconcile.ts";
import { createRuntime } from "../../lib/orchestrate/runtime.ts";
import { switchExitCode, switchVm } from "../../lib/orchestrate/switch.ts";
import { dig } from "../support/named.ts";
import { missing } from "../support/requirements.ts";
import { type Harness, startHarness } from "./harness.ts";

// DNS moves only after the new node's forwards are in place. Every node's
// nft fails here (nat.backend nftables, and no network namespace to run it
// in, as when nft itself errors): a switch must leave the names at the old
// node, journal the DNS step as waiting for the new node, exit non-zero, and
// no reconcile anywhere may move the names until that node has converged.

const OLD = "203.0.113.10";
const NEW = "203.0.113.20";

describe.skipIf(missing({ bins: ["named", "dig", "tsig-keygen"] }))(
  "a switch whose local convergence failed",
  () => {
    let h: Harness;
    const mailA = () => dig(h.primary.port, "mail.example.org", "A");
    const pendingDns = async () =>
      (await h.runtime("pve1").state.cluster.list()).filter((i) => i.id === "dns:vm:101");

    beforeAll(async () => {
      h = await startHarness({ config: (doc) => Object.assign(doc, { nat: { backend: "nftables" } }) });
      // The names point at the old node, as a switch there left them.
      await h.runtime("pve1").dns.setAddresses([{ name: "mail.example.org", a: [OLD], aaaa: [] }]);
      h.sim.moveVm(101, "pve2");
    }, 60_000);
    afterAll(async () => h?.stop());

    it("leaves the names at the old node and journals the DNS step as waiting for the new one", async () => {
      const r = await switchVm(h.runtime("pve2"), 101);
      expect(r.local).toMatchObject({ ok: false, error: expect.stringMatching(/no network namespace/) });
      expect(r.dns).toEqual({
        ok: false,
        error: expect.stringMatching(
          /^names not moved: pve2's forwards are not in place \(.*\); waiting for node:pve2$/,
        ),
      });
      expect(r.pending).toEqual(expect.arrayContaining(["node:pve2", "dns:vm:101"]));
      expect(switchExitCode(r)).not.toBe(0);
      expect(await mailA()).toEqual([OLD]);
      expect(await pendingDns()).toEqual([
        expect.objectContaining({ payload: { vmid: 101, after: "pve2" }, attempts: 1 }),
      ]);
    });

    it("the switch command exits non-zero and says why", async () => {
      const r = await h.cli("pve2", ["switch", "101", "--json"]);
      expect(r.code).not.toBe(0);
      expect(JSON.parse(r.stdout).data.dns.error).toMatch(
        /^names not moved: pve2's forwards are not in place/,
      );
      expect(await mailA()).toEqual([OLD]);
    });

    it("no reconcile moves the names while the new node has not converged", async () => {
      const other = await reconcile(h.runtime("pve1"));
      expect(other.drained.failed).toContainEqual({
        id: "dns:vm:101",
        error: "names not moved: waiting for node:pve2 (its forwards are not in place)",
      });
      const self = await reconcile(h.runtime("pve2"));
      expect(self.errors).toContainEqual(expect.stringMatching(/^converge: /));
      expect(self.dns?.outcomes).toEqual([]);
      expect(await mailA()).toEqual([OLD]);
      expect(await pendingDns()).toHaveLength(1);
    });

    it("once the new node converges, its reconcile moves the names and clears the step", async () => {
      // nft works again (here: the node's NAT is handled elsewhere).
      const fixed = await loadConfig(
        h.writeConfigVariant("fixed", (doc) => Object.assign(doc, { nat: { backend: "none" } })),
      );
      const r = await reconcile(createRuntime(fixed, { node: "pve2", log: () => {} }));
      expect(r.switched.find((s) => s.vmid === 101)).toMatchObject({
        local: { ok: true },
        dns: { ok: true },
      });
      expect(await mailA()).toEqual([NEW]);
      expect(await pendingDns()).toEqual([]);
    });
  },
);
