import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { missing } from "../support/requirements.ts";
import { type NetnsCluster, type NodeName, startNetnsCluster, VMID, waitFor } from "./netns-world.ts";

// Live, failed and offline migrations of VM 101 between pve1 and pve2, with
// the real hookscript bundle, real nft and HAProxy in each node's namespace,
// real BIND as the master, and the client probing from its own namespace.

// Long enough for the grace checks after a switch on a loaded 2-core machine.
const GRACE_SECONDS = 8;

describe.skipIf(
  missing({ root: true, bins: ["named", "dig", "tsig-keygen", "nft", "haproxy", "ip", "openssl"] }),
)("migrations end to end in network namespaces", () => {
  let c: NetnsCluster;
  const vm = () => c.h.sim.state.vm(VMID);
  const hookItems = async (node: NodeName) => (await c.runtime(node).state.local.list()).map((i) => i.id);
  const json = (stdout: string) => JSON.parse(stdout).data as Record<string, unknown>;

  beforeAll(async () => {
    c = await startNetnsCluster({ graceSeconds: GRACE_SECONDS, migrationDelayMs: 6000 });
  }, 90_000);
  afterAll(async () => c?.stop(), 60_000);

  it("reconcile on pve1 publishes VM 101: name, forwards and routes on pve1 only", async () => {
    const r = await c.cli("pve1", ["reconcile", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(await c.dnsA()).toEqual([c.publicIp("pve1")]);
    expect(await c.tcp("pve1")).toEqual({ ok: true, data: `vm101 hi ${c.world.client.ip}` });
    expect(await c.udp("pve1")).toEqual({ ok: true, data: `vm101 ping ${c.world.client.ip}` });
    expect(await c.tls("pve1")).toMatchObject({ ok: true, cn: "mail.example.org" });
    expect(await c.http("pve1")).toMatchObject({ ok: true, status: 200 });
    expect(await c.tcp("pve2")).toMatchObject({ ok: false });
    expect(await c.tls("pve2")).toMatchObject({ ok: false });
  });

  it("live migration pve1 -> pve2: nothing moves in flight, then everything follows; pve1 grace-forwards, then drops", async () => {
    // The memory transfer waits for the test: the in-flight checks never race a timer.
    c.h.sim.holdMigrations();
    c.h.sim.migrate(VMID, "pve2", { online: true });
    const env = { PVE_MIGRATED_FROM: "pve1" };
    // Proxmox runs the target's start hooks when the incoming QEMU launches.
    const pre = await c.hook("pve2", "pre-start", env);
    const post = await c.hook("pve2", "post-start", env);
    expect(pre.code, pre.stderr).toBe(0);
    expect(post.code, post.stderr).toBe(0);
    expect(post.stderr).toContain("migrating from pve1");
    // The hook blocks the migration: it must hand off, not do the work (generous bound).
    expect(post.ms).toBeLessThan(5000);

    // In flight: still pve1's everywhere, nothing on pve2 (the worker waits),
    // and neither node's timer moves anything either.
    const timers = await Promise.all([
      c.cli("pve1", ["reconcile", "--json"]),
      c.cli("pve2", ["reconcile", "--json"]),
    ]);
    for (const t of timers) {
      expect([0, 3], t.stderr).toContain(t.code);
      expect(json(t.stdout).switched).toEqual([]);
      const changes = (json(t.stdout).local as { changes: string[] }).changes;
      expect(changes.filter((l) => l.includes(c.vmIp))).toEqual([]);
    }
    expect(await c.dnsA()).toEqual([c.publicIp("pve1")]);
    expect(await c.nftTable("pve2")).not.toContain("2222");
    expect(await c.sniMap("pve2")).toBe("");
    expect(await c.tcp("pve1")).toMatchObject({ ok: true });
    expect(vm().lock, "the checks above ran while the migration was in flight").toBe("migrate");
    expect(vm().node).toBe("pve1");
    c.h.sim.releaseMigrations();

    await waitFor("the sim to finish the migration", async () => vm().node === "pve2" && !vm().lock);
    await c.world.moveVm("vm101", "pve2");

    await waitFor("the name to point at pve2", async () => (await c.dnsA())[0] === c.publicIp("pve2"));
    expect(await c.dnsA()).toEqual([c.publicIp("pve2")]);
    await waitFor("the worker to finish", async () => (await hookItems("pve2")).length === 0);
    expect(c.workerLog("pve2")).not.toMatch(/kept in the journal/);

    expect(await c.tcp("pve2")).toEqual({ ok: true, data: `vm101 hi ${c.world.client.ip}` });
    expect(await c.udp("pve2")).toEqual({ ok: true, data: `vm101 ping ${c.world.client.ip}` });
    expect(await c.tls("pve2")).toMatchObject({ ok: true, cn: "mail.example.org" });
    expect(await c.http("pve2")).toMatchObject({ ok: true, status: 200 });

    // Clients with the old address still arrive at pve1: forwarded over the mesh (masqueraded).
    // The VM sees pve1's mesh address: pve1 masquerades grace traffic, so replies come back through it.
    const pve1Mesh = c.world.nodes.pve1!.meshIp;
    expect(await c.tcp("pve1")).toEqual({ ok: true, data: `vm101 hi ${pve1Mesh}` });
    expect(await c.udp("pve1")).toEqual({ ok: true, data: `vm101 ping ${pve1Mesh}` });
    expect(await c.tls("pve1")).toMatchObject({ ok: true, cn: "mail.example.org" });
    expect(await c.nftTable("pve1")).toMatch(/timeout|expires/);

    // nft drops the grace forwards by itself; pve1's timer reconcile drops its HAProxy routes.
    await waitFor(
      "pve1's grace forward to expire",
      async () => !(await c.tcp("pve1")).ok,
      GRACE_SECONDS * 1000 + 8000,
    );
    expect(await c.udp("pve1")).toMatchObject({ ok: false });
    const r = await c.cli("pve1", ["reconcile", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(await c.sniMap("pve1")).toBe("");
    expect(await c.tls("pve1")).toMatchObject({ ok: false });
    expect(await c.http("pve1")).toMatchObject({ ok: false });
    // pve2 unaffected.
    expect(await c.tcp("pve2")).toMatchObject({ ok: true });
    expect(json(r.stdout).pending).toEqual([]);
  });

  it("failed migration pve2 -> pve1 changes nothing", async () => {
    const before = { pve1: await c.nftTable("pve1"), dns: await c.dnsA() };
    c.h.sim.failNextMigration("storage migration failed: out of space");
    c.h.sim.migrate(VMID, "pve1", { online: true });
    const env = { PVE_MIGRATED_FROM: "pve2" };
    expect((await c.hook("pve1", "pre-start", env)).code).toBe(0);
    expect((await c.hook("pve1", "post-start", env)).code).toBe(0);
    await waitFor("the migration to fail", async () => !vm().lock);
    expect(vm().node).toBe("pve2");
    await waitFor("pve1's worker to give up", async () => (await hookItems("pve1")).length === 0);
    expect(c.workerLog("pve1")).toContain("did not complete; nothing changed");

    expect(await c.dnsA()).toEqual(before.dns);
    expect(await c.nftTable("pve1")).toBe(before.pve1);
    expect(await c.sniMap("pve1")).toBe("");
    expect(await c.tcp("pve1")).toMatchObject({ ok: false });
    expect(await c.tcp("pve2")).toEqual({ ok: true, data: `vm101 hi ${c.world.client.ip}` });
    expect(await c.tls("pve2")).toMatchObject({ ok: true, cn: "mail.example.org" });
    const departures = await c.runtime("pve2").departures.list();
    expect(departures.filter((d) => d.node === "pve2")).toEqual([]);
    expect((await c.runtime("pve1").state.lastApplied.get(VMID))?.node).toBe("pve2");

    // Failing before post-start: only pre-start ran (it records the source, starts no worker);
    // pve1's timer finds the migration over and not here, and drops the record.
    c.h.sim.setMigrationDelay(800);
    c.h.sim.failNextMigration("start of the target VM failed");
    c.h.sim.migrate(VMID, "pve1", { online: true });
    expect((await c.hook("pve1", "pre-start", env)).code).toBe(0);
    await waitFor("the second migration to fail", async () => !vm().lock);
    expect(await hookItems("pve1")).toEqual([`hook:vm:${VMID}:post-start`]);
    const r = await c.cli("pve1", ["reconcile", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r.stdout)).toMatchObject({ switched: [], pending: [], errors: [] });
    expect(await hookItems("pve1")).toEqual([]);
    expect(await c.dnsA()).toEqual(before.dns);
    expect(await c.nftTable("pve1")).not.toContain("2222");
    expect(await c.tcp("pve2")).toEqual({ ok: true, data: `vm101 hi ${c.world.client.ip}` });
  });

  it("offline migration pve2 -> pve1 (no hooks): pve1's reconcile converges everything", async () => {
    await c.moveVm("pve1");
    // The old node's timer may fire first. The name still points at pve2, so
    // pve2 must keep forwarding to the VM (over the mesh), not drop it.
    const first = await c.cli("pve2", ["reconcile", "--json"]);
    expect(first.code, first.stderr).toBe(0);
    expect(await c.dnsA()).toEqual([c.publicIp("pve2")]);
    expect(await c.tcp("pve2")).toMatchObject({ ok: true, data: expect.stringMatching(/^vm101 hi /) });
    expect(await c.tls("pve2")).toMatchObject({ ok: true, cn: "mail.example.org" });

    const r = await c.cli("pve1", ["reconcile", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const report = json(r.stdout);
    expect(report.switched).toMatchObject([{ vmid: VMID, from: "pve2", to: "pve1", pending: [] }]);
    expect(report.pending).toEqual([]);
    expect(await c.dnsA()).toEqual([c.publicIp("pve1")]);
    expect(await c.tcp("pve1")).toEqual({ ok: true, data: `vm101 hi ${c.world.client.ip}` });
    expect(await c.tls("pve1")).toMatchObject({ ok: true, cn: "mail.example.org" });
    // pve2 was converged over the "remote" transport: grace forwards now, gone after the grace.
    expect(await c.tcp("pve2")).toMatchObject({ ok: true });
    await waitFor(
      "pve2's grace forward to expire",
      async () => !(await c.tcp("pve2")).ok,
      GRACE_SECONDS * 1000 + 8000,
    );
    // A second reconcile on pve1 is a no-op.
    const again = await c.cli("pve1", ["reconcile", "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(json(again.stdout).switched).toEqual([]);
    expect((json(again.stdout).local as { changes: string[] }).changes).toEqual([]);
  });

  it("`migrate 101 pve2` on pve1: one API migration, the switch on pve2 (racing the hook's worker), verified", async () => {
    c.h.sim.setMigrationDelay(1500);
    const posts = () => c.h.sim.state.countRequests("POST", /\/qemu\/101\/migrate$/);
    const before = posts();
    const cli = c.cli("pve1", ["migrate", String(VMID), "pve2", "--no-wait", "--json"]);
    // Proxmox runs the target's hooks for this migration too: their worker and migrate's own switch race.
    await waitFor("the migration to start", async () => vm().lock === "migrate");
    const env = { PVE_MIGRATED_FROM: "pve1" };
    expect((await c.hook("pve2", "pre-start", env)).code).toBe(0);
    expect((await c.hook("pve2", "post-start", env)).code).toBe(0);
    await waitFor("the sim to move the VM", async () => vm().node === "pve2" && !vm().lock);
    await c.world.moveVm("vm101", "pve2");
    const r = await cli;
    expect(r.code, r.stderr).toBe(0);
    expect(posts() - before).toBe(1);
    const s = json(r.stdout);
    expect(s).toMatchObject({ from: "pve1", to: "pve2", online: true, pending: [] });
    expect(s.switch).toMatchObject({ to: "pve2", from: "pve1", pending: [] });
    expect(s.verified).toMatchObject({ forwardsInPlace: true });
    expect((s.verified as { dns: string[] }).dns).toContainEqual(
      `mail.example.org at 127.0.0.1:${c.h.primary.port}: ${c.publicIp("pve2")}`,
    );
    expect(await c.dnsA()).toEqual([c.publicIp("pve2")]);
    expect(await c.tcp("pve2")).toEqual({ ok: true, data: `vm101 hi ${c.world.client.ip}` });
    expect(await c.tls("pve2")).toMatchObject({ ok: true, cn: "mail.example.org" });
    expect(await c.tcp("pve1")).toMatchObject({ ok: true }); // grace
    await waitFor("pve2's worker to finish", async () => (await hookItems("pve2")).length === 0);
    expect(await c.runtime("pve1").state.cluster.list()).toEqual([]);
    expect(await c.dnsA()).toEqual([c.publicIp("pve2")]);
  });

  it("post-stop on pve2: the worker drops the VM's forwards and routes there", async () => {
    c.h.sim.stopVm(VMID);
    const r = await c.hook("pve2", "post-stop");
    expect(r.code, r.stderr).toBe(0);
    await waitFor("pve2's worker to finish", async () => (await hookItems("pve2")).length === 0);
    expect(await c.nftTable("pve2")).not.toContain("2222");
    expect(await c.sniMap("pve2")).toBe("");
    expect(await c.tcp("pve2")).toMatchObject({ ok: false });
    expect(await c.tls("pve2")).toMatchObject({ ok: false });
    // deleteOnStop is off: the name stays where it was.
    expect(await c.dnsA()).toEqual([c.publicIp("pve2")]);
  });
});
