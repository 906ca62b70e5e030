import { createSocket, type Socket } from "node:dgram";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/named.ts";
import { missing } from "../support/requirements.ts";
import { type NetnsCluster, startNetnsCluster, VMID, waitFor } from "./netns-world.ts";

// What the orchestrator does when parts of the cluster are down, end to end
// with real nft, HAProxy and BIND: HA recovery while the old node is dead
// (and cleaning it when it returns), and a switch while every DNS master is
// down (journaled, finished by the next reconcile, exit code 3).

// Long enough to probe the old node after a switch that spent ~2.5 s on dead masters (on a loaded machine).
const GRACE_SECONDS = 10;

describe.skipIf(
  missing({ root: true, bins: ["named", "dig", "tsig-keygen", "nft", "haproxy", "ip", "openssl"] }),
)("failures end to end in network namespaces", () => {
  let c: NetnsCluster;
  let silent: Socket | undefined;
  const json = (stdout: string) => JSON.parse(stdout).data as Record<string, unknown>;
  const pending = async () => {
    const rt = c.runtime("pve1");
    return [...(await rt.state.cluster.list()), ...(await rt.state.local.list())].map((i) => i.id).sort();
  };

  beforeAll(async () => {
    c = await startNetnsCluster({ graceSeconds: GRACE_SECONDS });
    const r = await c.cli("pve1", ["reconcile", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(await c.dnsA()).toEqual([c.publicIp("pve1")]);
  }, 90_000);
  afterAll(async () => {
    silent?.close();
    await c?.stop();
  }, 60_000);

  it("a rebooted node (ruleset flushed, HAProxy restarted): plan shows the gap, reconcile restores it", async () => {
    // Debian's nftables.service starts with `flush ruleset`, then loads the admin's
    // own tables, which must survive the restore.
    await c.world.sh(c.ns("pve1"), ["nft", "flush", "ruleset"]);
    await c.world.sh(c.ns("pve1"), ["nft", "add", "table", "inet", "admin"]);
    await c.restartHaproxy("pve1");
    expect(await c.tcp("pve1")).toMatchObject({ ok: false });
    // HAProxy loaded its routes from the map files the orchestrator wrote.
    expect(await c.tls("pve1")).toMatchObject({ ok: true, cn: "mail.example.org" });

    const plan = await c.cli("pve1", ["plan", "--json"]);
    expect(plan.code, plan.stderr).toBe(4);
    type Planned = {
      nodes: Array<{ node: string; changes: Array<{ backend: string; key: string; after?: string }> }>;
    };
    const changes =
      (JSON.parse(plan.stdout).data as Planned).nodes.find((n) => n.node === "pve1")?.changes ?? [];
    expect(changes).toContainEqual(
      expect.objectContaining({
        backend: "nat",
        key: "tcp/2222",
        after: expect.stringMatching(/^10\.10\.1\.101:22/),
      }),
    );
    expect(changes.filter((ch) => ch.backend === "proxy")).toEqual([]);
    expect(await c.tcp("pve1")).toMatchObject({ ok: false }); // plan changed nothing
    // One plan: the dry run shows the same change objects as `plan` (real nft read back).
    const dry = await c.cli("pve1", ["reconcile", "--dry-run", "--json"]);
    expect((JSON.parse(dry.stdout).data as { local: { plan: unknown[] } }).local.plan).toEqual(changes);

    const r = await c.cli("pve1", ["reconcile", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    // ... and reconcile applies exactly those.
    const applied = (JSON.parse(r.stdout).data as { local: { plan: unknown[]; applied: boolean } }).local;
    expect(applied).toMatchObject({ plan: changes, applied: true });
    expect(await c.tcp("pve1")).toEqual({ ok: true, data: `vm101 hi ${c.world.client.ip}` });
    expect(await c.udp("pve1")).toEqual({ ok: true, data: `vm101 ping ${c.world.client.ip}` });
    expect(await c.tls("pve1")).toMatchObject({ ok: true, cn: "mail.example.org" });
    expect(await c.world.sh(c.ns("pve1"), ["nft", "list", "tables"])).toContain("table inet admin");
  });

  it("HA recovery with pve1 dead: pve2 converges at once, pve1 is cleaned when it returns", async () => {
    expect(await c.tcp("pve1")).toMatchObject({ ok: true });
    await c.nodeDown("pve1");
    // Fenced, and the HA stack starts the VM on pve2: start hooks there, no PVE_MIGRATED_FROM.
    await c.moveVm("pve2");
    expect((await c.hook("pve2", "pre-start")).code).toBe(0);
    const post = await c.hook("pve2", "post-start");
    expect(post.code, post.stderr).toBe(0);

    await waitFor("the name to point at pve2", async () => (await c.dnsA())[0] === c.publicIp("pve2"));
    await waitFor(
      "pve2's worker to finish",
      async () => (await c.runtime("pve2").state.local.list()).length === 0,
    );
    expect(await c.tcp("pve2")).toEqual({ ok: true, data: `vm101 hi ${c.world.client.ip}` });
    expect(await c.tls("pve2")).toMatchObject({ ok: true, cn: "mail.example.org" });
    expect(await c.http("pve2")).toMatchObject({ ok: true, status: 200 });
    // The dead node could not be reached: that step is journaled, cluster-wide.
    expect(c.workerLog("pve2")).toMatch(/node:pve1: .*kept in the journal/);
    expect(await pending()).toEqual(["node:pve1"]);
    // pve1 still holds the VM's forwards and routes as it had them when it died.
    expect(await c.nftTable("pve1")).toMatch(/2222 : 10\.10\.1\.101 \. 22/);
    expect(await c.sniMap("pve1")).toBe("mail.example.org 10.10.1.101:443");
    // pve2's timer retries the dead node, fails again, keeps it journaled: partial, exit 3.
    const meanwhile = await c.cli("pve2", ["reconcile", "--json"]);
    expect(meanwhile.code, meanwhile.stderr).toBe(3);
    expect(json(meanwhile.stdout)).toMatchObject({ pending: ["node:pve1"], switched: [] });
    expect(await c.tcp("pve2")).toMatchObject({ ok: true });

    // It stays down past the grace period, then comes back and its timer runs.
    const departure = (await c.runtime("pve2").departures.list()).find((d) => d.vmid === VMID);
    expect(departure?.node).toBe("pve1");
    await waitFor(
      "the grace period to pass",
      async () => Date.now() > departure!.leftAt + GRACE_SECONDS * 1000 + 200,
    );
    await c.nodeUp("pve1");
    const r = await c.cli("pve1", ["reconcile", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r.stdout).pending).toEqual([]);
    expect(await pending()).toEqual([]);
    expect(await c.nftTable("pve1")).not.toContain("2222");
    expect(await c.sniMap("pve1")).toBe("");
    expect(await c.tcp("pve1")).toMatchObject({ ok: false });
    expect(await c.tls("pve1")).toMatchObject({ ok: false });
    // pve2 keeps the VM, and the name stays.
    expect(await c.tcp("pve2")).toMatchObject({ ok: true });
    expect(await c.dnsA()).toEqual([c.publicIp("pve2")]);
  });

  it("both masters down during the switch: forwards switch, DNS is journaled (exit 3), the next reconcile finishes it", async () => {
    // One master refuses (closed port), the other is silent (never answers).
    silent = createSocket("udp4");
    await new Promise<void>((resolve) => silent!.bind(0, "127.0.0.1", () => resolve()));
    const closed = await freePort();
    const down = c.h.writeConfigVariant("masters-down", (doc) => {
      (doc.dns as Record<string, unknown>).masters = [
        `127.0.0.1:${closed}`,
        `127.0.0.1:${silent!.address().port}`,
      ];
    });

    await c.moveVm("pve1");
    const r = await c.cli("pve1", ["switch", String(VMID), "--from", "pve2", "--json"], { configFile: down });
    expect(r.code, r.stderr).toBe(3);
    const report = json(r.stdout);
    expect(report).toMatchObject({ from: "pve2", to: "pve1", pending: [`dns:vm:${VMID}`] });
    expect(report.local).toMatchObject({ ok: true });
    expect(report.old).toMatchObject({ ok: true });
    expect(report.dns).toMatchObject({ ok: false });

    // Forwards and routes followed the VM; the name could not.
    expect(await c.tcp("pve1")).toEqual({ ok: true, data: `vm101 hi ${c.world.client.ip}` });
    expect(await c.tls("pve1")).toMatchObject({ ok: true, cn: "mail.example.org" });
    expect(await c.dnsA()).toEqual([c.publicIp("pve2")]);
    expect(await c.tcp("pve2")).toMatchObject({ ok: true }); // grace: old clients still get through
    expect(await pending()).toEqual([`dns:vm:${VMID}`]);

    // The timer's reconcile while the masters are still down: still pending, exit 3.
    const stillDown = await c.cli("pve1", ["reconcile", "--json"], { configFile: down });
    expect(stillDown.code, stillDown.stderr).toBe(3);
    expect(json(stillDown.stdout).pending).toEqual([`dns:vm:${VMID}`]);
    expect(await c.dnsA()).toEqual([c.publicIp("pve2")]);

    // Masters back: the next reconcile finishes it.
    const next = await c.cli("pve1", ["reconcile", "--json"]);
    expect(next.code, next.stderr).toBe(0);
    expect(json(next.stdout)).toMatchObject({ pending: [], errors: [] });
    expect((json(next.stdout).drained as { done: string[] }).done).toContain(`dns:vm:${VMID}`);
    expect(await c.dnsA()).toEqual([c.publicIp("pve1")]);
    expect(await pending()).toEqual([]);
    expect(await c.tcp("pve1")).toMatchObject({ ok: true });

    // Failures are reported, secrets never: not in the output, the errors or the workers' logs.
    const said = [r, stillDown, next]
      .flatMap((x) => [x.stdout, x.stderr])
      .concat(c.workerLog("pve1"), c.workerLog("pve2"));
    for (const secret of [c.h.key.secret, c.h.sim.tokenSecret]) {
      for (const text of said) expect(text).not.toContain(secret);
    }
  });

  it("both masters hang during a hook-driven live migration: the worker journals DNS, reconcile finishes it once they answer", async () => {
    const vm = c.h.sim.state.vm(VMID);
    expect(vm.node).toBe("pve1");
    const env = { PVE_MIGRATED_FROM: "pve1" };
    c.h.sim.migrate(VMID, "pve2", { online: true });
    c.freezeMasters(true);
    try {
      expect((await c.hook("pve2", "pre-start", env)).code).toBe(0);
      expect((await c.hook("pve2", "post-start", env)).code).toBe(0);
      await waitFor("the sim to finish the migration", async () => vm.node === "pve2" && !vm.lock);
      await c.world.moveVm("vm101", "pve2");
      await waitFor(
        "pve2's worker to finish",
        async () => (await c.runtime("pve2").state.local.list()).length === 0,
      );
      expect(c.workerLog("pve2")).toMatch(/dns:vm:101: [^\n]*all 2 DNS master candidate\(s\) failed/);
      expect(await pending()).toEqual([`dns:vm:${VMID}`]);
      // Forwards and routes followed the VM without waiting for DNS.
      expect(await c.tcp("pve2")).toEqual({ ok: true, data: `vm101 hi ${c.world.client.ip}` });
      expect(await c.tls("pve2")).toMatchObject({ ok: true, cn: "mail.example.org" });
      expect(await c.tcp("pve1")).toMatchObject({ ok: true }); // grace, and the name still points here

      const stillDown = await c.cli("pve2", ["reconcile", "--json"]);
      expect(stillDown.code, stillDown.stderr).toBe(3);
      expect(json(stillDown.stdout).pending).toEqual([`dns:vm:${VMID}`]);
    } finally {
      c.freezeMasters(false);
    }
    // Thawed, the masters answer the queued (stale) queries late; CAS keeps them harmless.
    const next = await c.cli("pve2", ["reconcile", "--json"]);
    expect(next.code, next.stderr).toBe(0);
    expect(json(next.stdout)).toMatchObject({ pending: [], errors: [] });
    expect(await c.dnsA()).toEqual([c.publicIp("pve2")]);
    expect(await pending()).toEqual([]);
  });
});
