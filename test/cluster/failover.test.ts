import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProxmoxApiError } from "../../lib/cluster/client.ts";
import { getSnapshot } from "../../lib/cluster/snapshot.ts";
import { type SimCluster, startSimCluster } from "../../lib/sim/cluster.ts";
import { simClient } from "./helpers.ts";

// Endpoint failover with real sockets: a "dead" endpoint is a TCP listener on
// loopback that accepts and never speaks (a hung pveproxy, or a TLS handshake
// that never completes); an offline sim node resets connections at once.

const CONNECT_TIMEOUT = 500;

describe("endpoint failover (real sockets, simulated cluster)", () => {
  let sim: SimCluster;
  let hung: net.Server;
  let hungUrlTls: string;
  let hungUrlPlain: string;
  const hungSockets = new Set<net.Socket>();
  const hungBytes: Buffer[] = [];

  beforeAll(async () => {
    sim = await startSimCluster({ nodes: 3, vms: 6, migrationDelayMs: 50 });
    hung = net.createServer((s) => {
      hungSockets.add(s);
      s.on("data", (b) => hungBytes.push(b));
      s.on("close", () => hungSockets.delete(s));
    });
    await new Promise<void>((resolve) => hung.listen(0, "127.0.0.1", resolve));
    const { port } = hung.address() as net.AddressInfo;
    hungUrlTls = `https://127.0.0.1:${port}`;
    hungUrlPlain = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await sim?.stop();
    for (const s of hungSockets) s.destroy();
    await new Promise<void>((resolve) => (hung ? hung.close(() => resolve()) : resolve()));
  });

  it("a dead first endpoint costs about one connect timeout, then the second answers", async () => {
    const client = simClient([hungUrlTls, sim.url], {
      connectTimeoutMs: CONNECT_TIMEOUT,
      requestTimeoutMs: 5000,
    });
    const t0 = performance.now();
    const snap = await getSnapshot(client);
    const elapsed = performance.now() - t0;
    expect(snap.vms).toHaveLength(6);
    // Both snapshot requests ran in parallel, each paying the connect timeout once (not twice:
    // proxmox-api's retry must not try the dead endpoint again).
    expect(elapsed).toBeGreaterThanOrEqual(CONNECT_TIMEOUT - 20);
    expect(elapsed).toBeLessThan(2 * CONNECT_TIMEOUT);
    // The next call starts with the endpoint that answered.
    const t1 = performance.now();
    await client.request("GET", "/cluster/status");
    expect(performance.now() - t1).toBeLessThan(CONNECT_TIMEOUT);
  });

  it("an offline node's endpoint (connection refused) falls over at once", async () => {
    await sim.setNodeOnline("pve1", false);
    try {
      const client = simClient([sim.urls.pve1!, sim.urls.pve2!], { connectTimeoutMs: CONNECT_TIMEOUT });
      const t0 = performance.now();
      const snap = await getSnapshot(client);
      expect(performance.now() - t0).toBeLessThan(CONNECT_TIMEOUT);
      expect(snap.nodes.find((n) => n.name === "pve1")?.online).toBe(false);
      expect(snap.nodes.find((n) => n.name === "pve2")?.local).toBe(true);
      // A dead node's guests keep their last RRD status for minutes (pve-cluster status.c rrd_entry_is_old).
      expect(snap.vms.filter((v) => v.node === "pve1").every((v) => v.status === "running")).toBe(true);
    } finally {
      await sim.setNodeOnline("pve1", true);
    }
  });

  it("a POST that was sent and timed out is not re-sent to the next endpoint", async () => {
    hungBytes.length = 0;
    const client = simClient([hungUrlPlain, sim.url], {
      connectTimeoutMs: CONNECT_TIMEOUT,
      requestTimeoutMs: 400,
    });
    const postsBefore = sim.state.countRequests("POST", /migrate$/);
    const err = await client
      .request("POST", "/nodes/pve1/qemu/100/migrate", { target: "pve2", online: 1 })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(ProxmoxApiError);
    expect((err as Error).message).toContain(
      `${hungUrlPlain} POST /nodes/pve1/qemu/100/migrate: request timeout`,
    );
    await new Promise((r) => setTimeout(r, 100));
    // The dead endpoint got exactly one POST, the live one none.
    const received = Buffer.concat(hungBytes).toString("latin1");
    expect(received.match(/^POST /gm)).toHaveLength(1);
    expect(sim.state.countRequests("POST", /migrate$/)).toBe(postsBefore);
  });

  it("a POST that could not connect goes to the next endpoint, exactly once", async () => {
    await sim.setNodeOnline("pve3", false);
    try {
      const client = simClient([sim.urls.pve3!, sim.urls.pve2!], { connectTimeoutMs: CONNECT_TIMEOUT });
      const upid = await client.request("POST", "/nodes/pve1/qemu/100/migrate", {
        target: "pve2",
        online: 1,
      });
      expect(String(upid)).toMatch(/^UPID:pve1:.*:qmigrate:100:/);
      expect(sim.state.countRequests("POST", /\/qemu\/100\/migrate$/)).toBe(1);
      expect(sim.requests.filter((r) => r.method === "POST").map((r) => r.via)).toEqual(["pve2"]);
    } finally {
      await sim.setNodeOnline("pve3", true);
    }
  });

  it("a failed request leaves no timer behind (a CLI run or the hook's worker can exit at once)", async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    const client = simClient([hungUrlPlain.replace(/:\d+$/, ":1")], { requestTimeoutMs: 20_000 });
    await expect(client.request("GET", "/version")).rejects.toThrow(/ECONNREFUSED/);
    // proxmox-api's own abort timer is armed with 1 ms: let it fire.
    await new Promise((r) => setTimeout(r, 20));
    expect(timers()).toBeLessThanOrEqual(before);
  });
});
