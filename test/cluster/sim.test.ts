import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ProxmoxApiError } from "../../lib/cluster/client.ts";
import { discoverIp } from "../../lib/cluster/discover.ts";
import { migrate } from "../../lib/cluster/migrate.ts";
import { getSnapshot, getVmDescriptions } from "../../lib/cluster/snapshot.ts";
import { findMigrationSource } from "../../lib/cluster/source.ts";
import type { MigrateProgress, SnapshotVm } from "../../lib/cluster/types.ts";
import { waitForGuestOn } from "../../lib/cluster/wait.ts";
import { type SimCluster, startSimCluster } from "../../lib/sim/cluster.ts";
import { AGENT_ANSWER } from "./fixtures.ts";
import { simClient } from "./helpers.ts";

// The real client against the simulated cluster's real HTTP listeners.

const POLL = { pollMs: 20, haQueueTimeoutMs: 5000 };

describe("Proxmox adapter against the simulated cluster", () => {
  let sim: SimCluster;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `pvemigrate-sim-${process.pid}-`));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await sim?.stop();
  });

  const start = async (extra: Parameters<typeof startSimCluster>[0] = {}) => {
    sim = await startSimCluster({
      migrationDelayMs: 150,
      haDelayMs: 150,
      vms: [
        { vmid: 101, node: "pve1", name: "mail", tags: ["web", "prod"], agent: AGENT_ANSWER },
        {
          vmid: 102,
          node: "pve2",
          hastate: "started",
          config: { net0: "virtio=BC:24:11:00:01:02,bridge=vmbr1" },
        },
        { vmid: 103, node: "pve3", status: "stopped", lock: "backup" },
        {
          vmid: 200,
          node: "pve2",
          type: "lxc",
          config: { description: "```pvemigrate\ndns: [ct.example.org]\n```" },
        },
      ],
      ...extra,
    });
    return simClient(Object.values(sim.urls));
  };

  it("takes a snapshot in two requests", async () => {
    const client = await start();
    const snap = await getSnapshot(client);
    expect(client.stats.requests).toBe(2);
    expect(snap.quorate).toBe(true);
    expect(snap.nodes).toEqual([
      { name: "pve1", ip: "10.10.0.1", online: true, local: true },
      { name: "pve2", ip: "10.10.0.2", online: true, local: false },
      { name: "pve3", ip: "10.10.0.3", online: true, local: false },
    ]);
    expect(snap.vms).toEqual([
      { vmid: 101, type: "qemu", node: "pve1", status: "running", name: "mail", tags: ["web", "prod"] },
      {
        vmid: 102,
        type: "qemu",
        node: "pve2",
        status: "running",
        name: "vm102",
        tags: [],
        hastate: "started",
      },
      { vmid: 103, type: "qemu", node: "pve3", status: "stopped", name: "vm103", tags: [], lock: "backup" },
      { vmid: 200, type: "lxc", node: "pve2", status: "running", name: "vm200", tags: [] },
    ]);
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
  });

  it("the number of snapshot requests does not grow with the cluster (32 nodes, 2,000 guests)", async () => {
    sim = await startSimCluster({ nodes: 32, vms: 2000 });
    const client = simClient([sim.url]);
    const snap = await getSnapshot(client);
    expect(snap.nodes).toHaveLength(32);
    expect(snap.vms).toHaveLength(2000);
    expect(new Set(snap.vms.map((v) => v.node)).size).toBe(32);
    expect(client.stats.requests).toBe(2);
    expect(sim.requests.map((r) => r.path).sort()).toEqual([
      "/api2/json/cluster/resources",
      "/api2/json/cluster/status",
    ]);
  });

  it("sees offline nodes and lost quorum; a dead node's guests keep their last status for 5 minutes (status.c rrd_entry_is_old)", async () => {
    const client = await start();
    await sim.setNodeOnline("pve2", false);
    await sim.setNodeOnline("pve3", false);
    const snap = await getSnapshot(client);
    expect(snap.quorate).toBe(false);
    expect(snap.nodes.filter((n) => n.online).map((n) => n.name)).toEqual(["pve1"]);
    expect(snap.vms.find((v) => v.vmid === 102)?.status).toBe("running");
    sim.advanceClock(5 * 60 + 1);
    const later = await getSnapshot(client);
    expect(later.vms.find((v) => v.vmid === 102)?.status).toBe("unknown");
  });

  it("a wrong token gets 401, and the error does not show it", async () => {
    await start();
    const wrong = "00000000-1111-2222-3333-444444444444";
    const err = await getSnapshot(simClient([sim.url], {}, wrong)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProxmoxApiError);
    expect((err as Error).message).toMatch(/401 authentication failure/);
    expect((err as Error).message).not.toContain(wrong);
    expect(sim.requests.every((r) => r.status === 401)).toBe(true);
  });

  it("a 403 carries Proxmox's permission message from the status line", async () => {
    const client = await start();
    sim.injectFault({
      method: "POST",
      path: /\/migrate$/,
      status: 403,
      reason: "Permission check failed (/vms/101, VM.Migrate)",
    });
    const err = await migrate(client, { vmid: 101, from: "pve1", to: "pve2", online: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as Error).message).toContain("403 Permission check failed (/vms/101, VM.Migrate)");
    expect((err as Error).message).toContain("POST /nodes/pve1/qemu/101/migrate");
    expect(sim.state.vm(101).node).toBe("pve1");
  });

  it("migrates a running VM online with exactly one POST, reports progress, and the VM moves", async () => {
    const client = await start();
    const events: MigrateProgress[] = [];
    const r = await migrate(
      client,
      { vmid: 101, from: "pve1", to: "pve3", online: true },
      (p) => events.push(p),
      POLL,
    );
    expect(r).toMatchObject({ ok: true, exitstatus: "OK" });
    expect(r.upid).toMatch(
      /^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmigrate:101:root@pam!pvemigrate:$/,
    );
    expect(r.realUpid).toBeUndefined();
    const posts = sim.requests.filter((x) => x.method === "POST");
    expect(posts).toHaveLength(1);
    expect(posts[0]!.body).toEqual({ target: "pve3", online: "1", "with-local-disks": "1" });
    expect(events[0]).toEqual({ kind: "submitted", upid: r.upid, taskType: "qmigrate" });
    expect(events.filter((e) => e.kind === "log").map((e) => (e as { line: string }).line)).toContainEqual(
      expect.stringMatching(
        /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d migration finished successfully \(duration 00:00:0\d\)$/,
      ),
    );
    expect(events.at(-1)).toEqual({ kind: "finished", upid: r.upid, exitstatus: "OK" });
    const snap = await getSnapshot(client);
    expect(snap.vms.find((v) => v.vmid === 101)).toMatchObject({ node: "pve3", status: "running" });
    expect(snap.vms.find((v) => v.vmid === 101)?.lock).toBeUndefined();
  });

  it("follows an HA migrate to the real qmigrate task the HA stack starts", async () => {
    const client = await start();
    const events: MigrateProgress[] = [];
    const r = await migrate(
      client,
      { vmid: 102, from: "pve2", to: "pve1", online: true },
      (p) => events.push(p),
      POLL,
    );
    expect(r.ok).toBe(true);
    expect(r.upid).toContain(":hamigrate:102:");
    expect(r.realUpid).toMatch(/^UPID:pve2:.*:qmigrate:102:root@pam:$/);
    expect(events.map((e) => e.kind)).toEqual(
      expect.arrayContaining(["submitted", "ha-queued", "task-started", "finished"]),
    );
    expect(events.find((e) => e.kind === "task-started")).toEqual({
      kind: "task-started",
      upid: r.realUpid,
      node: "pve2",
    });
    expect(sim.state.vm(102).node).toBe("pve1");
    expect(sim.state.countRequests("POST", /migrate$/)).toBe(1);
  });

  it("waits until a migrating VM runs on the target, not for the slow unlock after it (QemuMigrate::phase3_cleanup)", async () => {
    const client = await start();
    sim.setMigrationDelay(300);
    sim.setUnlockDelay(1500);
    const running = migrate(client, { vmid: 101, from: "pve1", to: "pve2", online: true }, () => {}, POLL);
    await expect(
      waitForGuestOn(client, { vmid: 101, node: "pve2" }, { timeoutMs: 100, pollMs: 20 }),
    ).rejects.toThrow(/101 did not arrive on pve2 within 100 ms \(its config is not there yet\)/);
    const arrived = await waitForGuestOn(
      client,
      { vmid: 101, node: "pve2" },
      { timeoutMs: 5000, pollMs: 20 },
    );
    expect(arrived.status).toBe("running");
    expect(arrived.lock).toBe("migrate");
    expect(sim.events.filter((e) => e.vmid === 101).map((e) => e.what)).not.toContain("unlocked");
    expect(sim.state.vm(101).node).toBe("pve2");
    expect((await running).ok).toBe(true);
  });

  it("reports a failed migration with the task's error text; the VM stays", async () => {
    const client = await start();
    sim.failNextMigration("storage 'local-zfs' is not available on node 'pve2'");
    const r = await migrate(client, { vmid: 101, from: "pve1", to: "pve2", online: true }, () => {}, POLL);
    expect(r.ok).toBe(false);
    expect(r.exitstatus).toBe("migration aborted");
    expect(r.error).toContain("storage 'local-zfs' is not available on node 'pve2'");
    expect(sim.state.vm(101).node).toBe("pve1");
  });

  it("reports a failed HA migration through the real task", async () => {
    const client = await start();
    sim.failNextMigration("target node is fenced");
    const r = await migrate(client, { vmid: 102, from: "pve2", to: "pve3", online: true }, () => {}, POLL);
    expect(r).toMatchObject({ ok: false, exitstatus: "migration aborted" });
    expect(r.realUpid).toContain(":qmigrate:102:");
    expect(r.error).toContain("target node is fenced");
  });

  it("a refused migrate (locked VM) is an error naming the reason", async () => {
    const client = await start();
    const err = await migrate(client, { vmid: 103, from: "pve3", to: "pve1", online: false }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as Error).message).toContain("500 VM is locked (backup)");
  });

  it("migrates a container in restart mode", async () => {
    const client = await start();
    const r = await migrate(
      client,
      { vmid: 200, from: "pve2", to: "pve3", online: true, type: "lxc" },
      () => {},
      POLL,
    );
    expect(r.ok).toBe(true);
    expect(r.upid).toContain(":vzmigrate:200:");
    expect(sim.requests.find((x) => x.method === "POST")?.body).toEqual({ target: "pve3", restart: "1" });
  });

  it("finds where a VM came from: env, then the newest finished migrate task, then our record", async () => {
    const client = await start();
    expect(await findMigrationSource(client, 101, { env: { PVE_MIGRATED_FROM: "pve9" } })).toEqual({
      from: "pve9",
      via: "env",
    });
    expect(await findMigrationSource(client, 101, { env: {} })).toBeUndefined();
    expect(await findMigrationSource(client, 101, { env: {}, lastApplied: "pve2" })).toEqual({
      from: "pve2",
      via: "record",
    });
    await migrate(client, { vmid: 101, from: "pve1", to: "pve2", online: true }, () => {}, POLL);
    sim.advanceClock(60);
    const second = await migrate(
      client,
      { vmid: 101, from: "pve2", to: "pve3", online: true },
      () => {},
      POLL,
    );
    sim.advanceClock(60);
    sim.failNextMigration("nope");
    await migrate(client, { vmid: 101, from: "pve3", to: "pve1", online: true }, () => {}, POLL);
    // The failed pve3 -> pve1 attempt does not count: the VM came from pve2.
    expect(await findMigrationSource(client, 101, { env: {}, lastApplied: "pve1" })).toEqual({
      from: "pve2",
      via: "task",
      upid: second.upid,
    });
  });

  describe("IP discovery", () => {
    const vmOf = async (vmid: number): Promise<SnapshotVm> => {
      const snap = await getSnapshot(simClient([sim.url]));
      return snap.vms.find((v) => v.vmid === vmid)!;
    };
    const opts = () => ({ vmNetwork: "10.10.0.0/16", leasesFile: join(dir, "dnsmasq.leases") });

    it("static needs no request", async () => {
      const client = await start();
      const vm = await vmOf(101);
      const before = sim.requests.length;
      expect(await discoverIp(client, vm, { ip: { kind: "static", address: "10.10.1.5" } }, opts())).toBe(
        "10.10.1.5",
      );
      expect(sim.requests.length).toBe(before);
    });

    it("guest agent: picks the VM-network address among several interfaces", async () => {
      const client = await start();
      expect(await discoverIp(client, await vmOf(101), { ip: { kind: "agent" } }, opts())).toBe(
        "10.10.1.101",
      );
      expect(sim.requests.at(-1)?.path).toBe("/api2/json/nodes/pve1/qemu/101/agent/network-get-interfaces");
    });

    it("guest agent: clear errors when the agent is missing or nothing fits", async () => {
      const client = await start();
      await expect(discoverIp(client, await vmOf(102), { ip: { kind: "agent" } }, opts())).rejects.toThrow(
        /QEMU guest agent is not running/,
      );
      sim.setAgentInterfaces(102, [
        {
          name: "docker0",
          "ip-addresses": [{ "ip-address": "172.17.0.1", "ip-address-type": "ipv4", prefix: 16 }],
        },
      ]);
      await expect(discoverIp(client, await vmOf(102), { ip: { kind: "agent" } }, opts())).rejects.toThrow(
        "VM 102 (ip: agent): the guest agent reports no address in 10.10.0.0/16 (saw: docker0 172.17.0.1)",
      );
    });

    it("container: reads every address from `ip-addresses` (PVE 8.4+), not only the last one `inet` keeps (PVE::LXC::get_interfaces)", async () => {
      const client = await start();
      sim.setAgentInterfaces(200, [
        { name: "lo", "ip-addresses": [{ "ip-address": "127.0.0.1", "ip-address-type": "ipv4", prefix: 8 }] },
        {
          name: "eth0",
          "hardware-address": "bc:24:11:00:00:c8",
          "ip-addresses": [
            { "ip-address": "10.10.5.200", "ip-address-type": "ipv4", prefix: 16 },
            { "ip-address": "192.0.2.5", "ip-address-type": "ipv4", prefix: 24 },
          ],
        },
      ]);
      const raw = (await client.request("GET", "/nodes/pve2/lxc/200/interfaces")) as Array<
        Record<string, unknown>
      >;
      expect(raw.find((i) => i.name === "eth0")?.inet).toBe("192.0.2.5/24");
      expect(await discoverIp(client, await vmOf(200), { ip: { kind: "agent" } }, opts())).toBe(
        "10.10.5.200",
      );
      expect(sim.requests.at(-1)?.path).toBe("/api2/json/nodes/pve2/lxc/200/interfaces");
    });

    it("dnsmasq: matches the lease by the MAC of the VM's net0", async () => {
      const client = await start();
      await writeFile(
        opts().leasesFile,
        "1764009999 bc:24:11:00:01:02 10.10.2.102 vm102 *\n1764009999 bc:24:11:00:01:03 10.10.2.103 vm103 *\n",
      );
      expect(await discoverIp(client, await vmOf(102), { ip: { kind: "dnsmasq" } }, opts())).toBe(
        "10.10.2.102",
      );
      await expect(discoverIp(client, await vmOf(101), { ip: { kind: "dnsmasq" } }, opts())).rejects.toThrow(
        "VM 101 (ip: dnsmasq): no lease in 10.10.0.0/16 for MAC bc:24:11:00:00:65",
      );
      await expect(
        discoverIp(
          client,
          await vmOf(102),
          { ip: { kind: "dnsmasq" } },
          { ...opts(), leasesFile: join(dir, "none") },
        ),
      ).rejects.toThrow(/cannot read dnsmasq leases .*none \(ENOENT\)/);
    });
  });

  it("fetches the Notes of the configured guests, skipping offline nodes", async () => {
    const client = await start();
    await sim.setNodeOnline("pve3", false);
    const snap = await getSnapshot(client);
    const notes = await getVmDescriptions(client, snap, [101, 103, 200, 999]);
    expect([...notes.entries()]).toEqual(
      expect.arrayContaining([
        [101, ""],
        [200, "```pvemigrate\ndns: [ct.example.org]\n```"],
      ]),
    );
    expect(notes.size).toBe(2);
  });
});
