import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config/load.ts";
import { reconcile, reconcileExitCode } from "../../lib/orchestrate/reconcile.ts";
import { createRuntime, type Runtime } from "../../lib/orchestrate/runtime.ts";
import { closedPort } from "../dns/fake-servers.ts";
import { dig } from "../support/named.ts";
import { missing } from "../support/requirements.ts";
import { type Harness, startHarness } from "./harness.ts";

// Hostile tenants through the real orchestrator: the simulated cluster, real
// BIND, guests tagged `pvemigrate-dns` whose Notes claim names. A Notes block
// never takes a name the tool wrote for another VM (or one in today's format),
// and a name whose claim went away is withdrawn at the next reconcile.

const TAG = "pvemigrate-dns";
const OLD_TXT = '"heritage=pvemigrate-dns,owner=pvemigrate-dns"';
const vmTxt = (vmid: number) => `"heritage=pvemigrate-dns,owner=pvemigrate-dns,vm=${vmid}"`;
const notesBlock = (vmid: number, dns: string[]) =>
  `Tenant VM ${vmid}\n\n\`\`\`pvemigrate-dns\ndns: [ ${dns.join(", ")} ]\n\`\`\`\n`;

describe.skipIf(missing({ bins: ["named", "dig", "tsig-keygen"] }))("guest names claimed in Notes", () => {
  let h: Harness;
  const log: string[] = [];
  const runtime = (node: string, overrides: Partial<Runtime["config"]["dns"]> = {}, loaded = h.loaded) =>
    createRuntime(
      { ...loaded, config: { ...loaded.config, dns: { ...loaded.config.dns, ...overrides } } },
      { node, log: (l) => log.push(l) },
    );
  const addTenant = (vmid: number, node: string, dns: string[]) =>
    h.sim.addVm({
      vmid,
      node,
      tags: [TAG],
      config: { name: `vm${vmid}`, description: notesBlock(vmid, dns) },
    });
  const setNotes = (vmid: number, text: string) => {
    h.sim.state.vms.get(vmid)!.config.description = text;
  };
  const a = (name: string) => dig(h.primary.port, name, "A");

  beforeAll(async () => {
    h = await startHarness({
      secondary: false,
      records: ["legacy-ours IN A 192.0.2.9", `legacy-ours IN TXT ${OLD_TXT}`],
      // Notes are off by default: these tenants may claim names anywhere under the zone.
      config: (doc) => (doc.notes = { enabled: true, dnsSuffixes: ["example.org"], ip: "agent" }),
    });
  }, 90_000);
  afterAll(async () => h?.stop());

  it("Notes cleared: the name is withdrawn (A and TXT) at the next reconcile", async () => {
    addTenant(104, "pve1", ["tenant.example.org"]);
    expect((await reconcile(runtime("pve1"))).errors).toEqual([]);
    expect(await a("tenant.example.org")).toEqual(["203.0.113.10"]);

    setNotes(104, "Tenant VM, no block any more\n");
    const r = await reconcile(runtime("pve1"));
    expect(await a("tenant.example.org")).toEqual([]);
    expect(await dig(h.primary.port, "tenant.example.org", "TXT")).toEqual([]);
    expect(r.errors).toEqual([]);
    expect(r.dns?.withdrawn).toEqual(["tenant.example.org"]);
  });

  it("a name the file no longer lists is not taken over by a tenant's Notes: it is withdrawn instead", async () => {
    await reconcile(runtime("pve2"));
    expect(await a("shop.example.org")).toEqual(["203.0.113.20"]);
    // The admin drops shop.example.org from VM 102; a tenant on pve3 claims it in its Notes.
    const dropped = await loadConfig(
      h.writeConfigVariant("drop-shop", (doc) => {
        const vm102 = (doc.vms as Record<string, Record<string, unknown>>)["102"]!;
        vm102.dns = ["www.example.org"];
        vm102.sni = [];
      }),
    );
    addTenant(105, "pve3", ["shop.example.org"]);
    const r = await reconcile(runtime("pve3", {}, dropped));
    expect(await a("shop.example.org")).toEqual([]);
    expect(r.dns?.problems).toContain(
      "shop.example.org: not written for VM 105 (Notes): it belongs to VM 102; a Notes block cannot take it",
    );
    // Withdrawn, it stays out of the tenant's reach: the file gave it to a VM before.
    await reconcile(runtime("pve3", {}, dropped));
    expect(await a("shop.example.org")).toEqual([]);
    expect(await a("www.example.org")).toEqual(["203.0.113.20"]);
    expect(await dig(h.primary.port, "www.example.org", "TXT")).toEqual([vmTxt(102)]);
  });

  it("a name in today's format (no VM label) is not adopted by Notes, nor withdrawn without a record", async () => {
    addTenant(109, "pve1", ["legacy-ours.example.org"]);
    const r = await reconcile(runtime("pve1"));
    expect(await a("legacy-ours.example.org")).toEqual(["192.0.2.9"]);
    expect(await dig(h.primary.port, "legacy-ours.example.org", "TXT")).toEqual([OLD_TXT]);
    expect(r.dns?.problems.join("\n")).toMatch(
      /legacy-ours\.example\.org: not written for VM 109: it was written without a VM label/,
    );
    // Nobody claims it now, but no version that keeps the registry wrote it: left as it is.
    setNotes(109, "");
    await reconcile(runtime("pve1"));
    expect(await a("legacy-ours.example.org")).toEqual(["192.0.2.9"]);
  });

  it("a stopped VM and a VM the API does not show keep their names", async () => {
    addTenant(106, "pve1", ["stopped.example.org"]);
    addTenant(107, "pve1", ["hidden.example.org"]);
    await reconcile(runtime("pve1"));
    h.sim.stopVm(106);
    h.sim.state.vms.delete(107); // as /cluster/resources does for a guest the token may not audit
    const r = await reconcile(runtime("pve1"));
    expect(await a("stopped.example.org")).toEqual(["203.0.113.10"]);
    expect(await a("hidden.example.org")).toEqual(["203.0.113.10"]);
    expect(r.dns?.withdrawn).toEqual([]);
  });

  it("a withdrawal the masters cannot take is journaled, and the next run finishes it", async () => {
    addTenant(108, "pve1", ["journal.example.org"]);
    await reconcile(runtime("pve1"));
    expect(await a("journal.example.org")).toEqual(["203.0.113.10"]);
    setNotes(108, "");
    const down = runtime("pve3", {
      masters: [{ host: "127.0.0.1", port: await closedPort() }],
      totalTimeoutMs: 300,
    });
    const failed = await reconcile(down);
    expect(failed.pending).toContain("withdraw:journal.example.org");
    expect(reconcileExitCode(failed)).toBe(3);
    expect(await a("journal.example.org")).toEqual(["203.0.113.10"]);

    const next = await reconcile(runtime("pve3"));
    expect(next.drained.done).toContain("withdraw:journal.example.org");
    expect(next.pending).toEqual([]);
    expect(await a("journal.example.org")).toEqual([]);
  });
});
