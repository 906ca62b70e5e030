import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ownershipTxt } from "../../lib/dns/ownership.ts";
import { dnsWork } from "../../lib/orchestrate/pending.ts";
import { run } from "../../lib/process/run.ts";
import type { StatusReport } from "../../lib/status/types.ts";
import { type Harness, startHarness } from "../e2e/harness.ts";
import { type DnsDaemon, startNamedPrimary } from "../support/named.ts";
import { missing } from "../support/requirements.ts";

// `status` as an admin runs it (the built bundle, no --node) against the
// simulated cluster and two real BIND primaries that disagree: each drift
// reason shows where it comes from, pending work carries its reason and age,
// and status changes nothing.

const OWNER = "status-test";

describe.skipIf(missing({ bins: ["named", "dig", "tsig-keygen"] }))("status", () => {
  let h: Harness;
  let other: DnsDaemon;
  let config: string;
  beforeAll(async () => {
    h = await startHarness({
      secondary: false,
      records: [
        // VM 101 runs on pve1 (203.0.113.10): ours, still an old address at the first master.
        "mail IN A 203.0.113.99",
        `mail IN TXT "${ownershipTxt(OWNER, 101)}"`,
        // Given to VM 102 by the config, but made by hand: not ours.
        "legacy IN A 192.0.2.7",
      ],
      config: (doc) => {
        (doc.dns as { ownerId?: string }).ownerId = OWNER;
        (doc.vms as Record<string, { dns: string[] }>)["102"]!.dns.push("legacy.example.org");
        // A tenant's guest whose block is in its Notes: marked as such.
        doc.notes = { enabled: true, dnsSuffixes: ["example.org"], ip: "agent" };
      },
    });
    h.sim.addVm({
      vmid: 104,
      node: "pve3",
      tags: ["pvemigrate-dns"],
      config: {
        name: "vm104",
        description: "Tenant\n\n```pvemigrate-dns\ndns: [ tenant.example.org ]\n```\n",
      },
    });
    // The second master candidate is another primary that alone holds www: the masters diverge.
    other = await startNamedPrimary({
      zone: "example.org",
      keys: [h.key],
      records: ["www IN A 203.0.113.20", `www IN TXT "${ownershipTxt(OWNER, 102)}"`],
    });
    config = h.writeConfigVariant("two-primaries", (doc) => {
      (doc.dns as { masters: string[] }).masters.push(`127.0.0.1:${other.port}`);
      // HAProxy not running: its map files are what each node serves (read back as such).
      (doc.proxy as { backend: string }).backend = "haproxy";
    });
    // VM 102 runs on pve2, where its route is; pve1 still routes to it (grace after a move).
    for (const node of ["pve1", "pve2"]) {
      mkdirSync(join(h.dir, node, "maps"), { recursive: true });
      writeFileSync(join(h.dir, node, "maps", "sni.map"), "shop.example.org 10.10.2.102:443\n");
    }
  }, 90_000);
  afterAll(async () => {
    await other?.stop();
    await h?.stop();
  });

  it("shows each name at every master with why it drifts, pending work with reason and age, and writes nothing", async () => {
    await h.runtime("pve1").state.recordPending(dnsWork, { vmid: 101 });
    const requests = h.sim.state.requests.length;
    const r = await run([process.execPath, h.bundle, "--config", config, "status", "--json"], {
      env: { ...process.env, PVEMIGRATE_DNS_NODE: "not-a-node" },
    });
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout).data as StatusReport;
    const vm = (id: number) => s.vms.find((v) => v.vmid === id)!;
    const name = (id: number, n: string) => vm(id).names.find((x) => x.name === n)!;
    expect(vm(101)).toMatchObject({
      node: "pve1",
      state: "running",
      address: { ip: "10.10.1.101", source: "static" },
    });
    expect(name(101, "mail.example.org").drift).toEqual(["diverging masters", "stale", "missing"]);
    expect(name(101, "mail.example.org").masters.map((m) => m.addresses)).toEqual([["203.0.113.99"], []]);
    expect(name(102, "legacy.example.org")).toMatchObject({ drift: expect.arrayContaining(["not ours"]) });
    expect(name(102, "www.example.org").drift).toEqual(["diverging masters", "missing"]);
    expect(vm(102).present).toEqual([
      { node: "pve2", kind: "sni", key: "shop.example.org", target: "10.10.2.102:443" },
    ]);
    expect(vm(102).grace).toEqual([
      { node: "pve1", kind: "sni", key: "shop.example.org", target: "10.10.2.102:443" },
    ]);
    expect(vm(101).present).toEqual([]);
    expect(vm(101).fromNotes).toBe(false);
    expect(vm(104)).toMatchObject({ node: "pve3", fromNotes: true, address: { source: "agent" } });
    expect(vm(104).names.map((n) => [n.name, n.fromNotes])).toEqual([["tenant.example.org", true]]);
    expect(s.pending).toEqual([
      expect.objectContaining({ id: "dns:vm:101", vmid: 101, journal: "cluster", reason: "not tried yet" }),
    ]);
    expect(s.pending[0]!.ageSeconds).toBeGreaterThanOrEqual(0);
    // Read-only: no POST/PUT to the API.
    expect(h.sim.state.requests.slice(requests).filter((q) => q.method !== "GET")).toEqual([]);

    const text = await run([process.execPath, h.bundle, "--config", config, "status"], {
      env: { ...process.env, PVEMIGRATE_DNS_NODE: "not-a-node" },
    });
    expect(text.stdout).not.toContain("\x1b[");
    expect(text.stdout).toMatch(/^VM 104 \[notes\] {2}running on pve3/m);
    expect(text.stdout).toMatch(/^ {2}tenant\.example\.org \[notes\] {2}/m);
    expect(text.stdout).toContain("  legacy.example.org  drift: not ours");
    expect(text.stdout).toContain("  on pve2: sni shop.example.org -> 10.10.2.102:443\n");
    expect(text.stdout).toContain("  elsewhere: pve1 sni shop.example.org -> 10.10.2.102:443\n");
    expect(text.stdout).toMatch(
      / {2}dns:vm:101 \(VM 101, cluster journal, \d+s old, 0 failed\): not tried yet/,
    );
  }, 60_000);
});
