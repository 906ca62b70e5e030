import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { missing } from "../support/requirements.ts";
import { type NetnsCluster, type NodeName, startNetnsCluster, VMID, waitFor } from "./netns-world.ts";

// The hook's worker and the timer's reconcile (on both nodes) racing over one
// VM, 20 live migrations back and forth: every round must end in one
// consistent state (name, forwards, routes, last-applied all on the new node,
// the old node holding at most grace entries, nothing left in the journals).
// The VM's address comes from its guest agent, as for a typical DHCP'd VM.

const ROUNDS = 20;

describe.skipIf(
  missing({ root: true, bins: ["named", "dig", "tsig-keygen", "nft", "haproxy", "ip", "openssl"] }),
)("hook and reconcile racing in network namespaces", () => {
  let c: NetnsCluster;
  const vm = () => c.h.sim.state.vm(VMID);
  const other = (n: NodeName): NodeName => (n === "pve1" ? "pve2" : "pve1");
  const journals = async () => {
    const ids: string[] = [];
    for (const n of ["pve1", "pve2"] as const) {
      const rt = c.runtime(n);
      ids.push(...(await rt.state.local.list()).map((i) => `${n}:${i.id}`));
    }
    ids.push(...(await c.runtime("pve1").state.cluster.list()).map((i) => `cluster:${i.id}`));
    return ids.sort();
  };

  beforeAll(async () => {
    // Grace outlasts a round: the old node must still forward when the round is checked.
    c = await startNetnsCluster({ graceSeconds: 20, migrationDelayMs: 250, ipSource: "agent" });
    const r = await c.cli("pve1", ["reconcile", "--json"]);
    expect(r.code, r.stderr).toBe(0);
  }, 90_000);
  afterAll(async () => c?.stop(), 60_000);

  it(`${ROUNDS} live migrations with the hook and both nodes' reconcile racing: one consistent result each time`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const from = vm().node as NodeName;
      const to = other(from);
      const where = `round ${round} (${from} -> ${to})`;
      c.h.sim.migrate(VMID, to, { online: true });
      const env = { PVE_MIGRATED_FROM: from };
      const hooks = (async () => {
        const pre = await c.hook(to, "pre-start", env);
        const post = await c.hook(to, "post-start", env);
        return [pre.code, post.code];
      })();
      // The timers fire as the migration completes, before, while and after the hooks run.
      await waitFor(`${where}: the sim to finish`, async () => vm().node === to && !vm().lock, 10_000, 20);
      await c.world.moveVm("vm101", to);
      await new Promise((r) => setTimeout(r, (round % 5) * 250));
      const reconciles = await Promise.all([
        c.cli(to, ["reconcile", "--json"]),
        c.cli(from, ["reconcile", "--json"]),
      ]);
      expect(await hooks, where).toEqual([0, 0]);
      for (const r of reconciles) expect([0, 3], `${where}: ${r.stderr}`).toContain(r.code);
      // Whichever ran first, the old node never dropped the VM while its name could still point there.
      const oldReport = JSON.parse(reconciles[1].stdout).data as { local?: { changes: string[] } };
      expect(oldReport.local?.changes ?? [], `${where}: old node's reconcile`).not.toContainEqual(
        expect.stringMatching(/^nat: - tcp\/2222/),
      );

      await waitFor(
        `${where}: the journals to drain`,
        async () => (await journals()).length === 0,
        20_000,
        100,
      ).catch(async (err: unknown) => {
        throw new Error(
          `${String(err)}; pending ${(await journals()).join(", ")}\n${c.workerLog(to).slice(-2000)}`,
        );
      });

      expect(await c.dnsA(), where).toEqual([c.publicIp(to)]);
      expect((await c.runtime(to).state.lastApplied.get(VMID))?.node, where).toBe(to);
      const onTarget = await c.nftTable(to);
      expect(onTarget, where).toMatch(/2222 : 10\.10\.1\.101 \. 22/);
      expect(await c.sniMap(to), where).toBe("mail.example.org 10.10.1.101:443");
      // The old node: grace entries at most (they expire), never the VM's permanent forward.
      const onOld = await c.nftTable(from);
      for (const line of onOld.split("\n").filter((l) => l.includes("10.10.1.101 . 22"))) {
        expect(line, `${where}: old node's forward`).toMatch(/timeout|expires/);
      }
      expect(await c.tcp(to), where).toEqual({ ok: true, data: `vm101 hi ${c.world.client.ip}` });
      // Clients that still resolve the old address get through (grace, over the mesh).
      expect(await c.tcp(from), `${where}: grace on the old node`).toMatchObject({ ok: true });
    }
  }, 240_000);

  it("a switch's departure record is never lost to another node's reconcile pruning at the same moment", async () => {
    // Departures live in one pmxcfs file per VM, written by the new node's
    // switch (add) and pruned by every node's reconcile: both read, modify and
    // write it. A VM id of its own keeps VM 101's records out of this.
    const vmid = 4242;
    const switcher = c.runtime("pve2");
    const pruner = c.runtime("pve1");
    let lost = 0;
    for (let i = 0; i < 40; i++) {
      const now = Date.now();
      await switcher.departures.prune(now + 1);
      await switcher.departures.add({ vmid, node: "pve2", ip: "10.10.1.42", leftAt: now - 60_000 }); // expired
      await switcher.departures.add({ vmid, node: "pve3", ip: "10.10.1.42", leftAt: now }); // in grace
      const fresh = { vmid, node: "pve1", ip: "10.10.1.42", leftAt: now + 1 };
      await Promise.all([pruner.departures.prune(now - 30_000), switcher.departures.add(fresh)]);
      const kept = await pruner.departures.list();
      if (!kept.some((d) => d.vmid === vmid && d.node === "pve1" && d.leftAt === fresh.leftAt)) lost++;
    }
    await switcher.departures.prune(Date.now() + 1);
    expect(lost, "departures lost to a concurrent prune").toBe(0);
  });
});
