import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { masterLabel } from "../../lib/dns/errors.ts";
import { run } from "../../lib/process/run.ts";
import { dig, startNamedPrimary } from "../support/named.ts";
import { missing } from "../support/requirements.ts";
import { type Harness, startHarness } from "./harness.ts";

// The orchestrator's commands as an admin runs them: the built CLI bundle as
// a whole process, against the simulated cluster and real BIND masters.

describe.skipIf(missing({ bins: ["named", "dig", "tsig-keygen"] }))("orchestrator CLI", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    // Bring every node up to date first, as the timer would.
    for (const node of ["pve1", "pve2", "pve3"]) expect((await h.cli(node, ["reconcile"])).code).toBe(0);
  }, 90_000);
  afterAll(async () => h?.stop());

  it("status shows where each VM runs and where its names point", async () => {
    const r = await h.cli("pve1", ["status", "--json"]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout).data;
    const vm101 = s.vms.find((v: { vmid: number }) => v.vmid === 101);
    expect(vm101.node).toBe("pve1");
    const masters = h.loaded.config.dns.masters.map(masterLabel);
    expect(vm101.names).toEqual([
      {
        name: "mail.example.org",
        fromNotes: false,
        expected: ["203.0.113.10"],
        masters: masters.map((master) => ({
          master,
          exists: true,
          addresses: ["203.0.113.10"],
          owner: "ours",
        })),
        drift: [],
      },
    ]);
    expect(r.stdout).not.toContain(h.sim.tokenSecret);
    expect(r.stdout).not.toContain(h.key.secret);
  });

  it("status names the servers that still answer a name with something else (dns.propagation.servers)", async () => {
    // A primary of the same zone that never hears of our writes: it still answers the old address.
    const stray = await startNamedPrimary({
      zone: "example.org",
      keys: [h.key],
      records: ["mail IN A 203.0.113.99"],
    });
    try {
      const variant = h.writeConfigVariant("stray", (doc) => {
        (doc as { dns: Record<string, unknown> }).dns.propagation = {
          nameServers: false,
          servers: [`127.0.0.1:${stray.port}`],
        };
      });
      const r = await run([
        process.execPath,
        h.bundle,
        "--config",
        variant,
        "status",
        "--json",
        "--node",
        "pve1",
      ]);
      expect(r.code).toBe(0);
      const vm101 = JSON.parse(r.stdout).data.vms.find((v: { vmid: number }) => v.vmid === 101);
      expect(vm101.names).toMatchObject([
        {
          name: "mail.example.org",
          expected: ["203.0.113.10"],
          drift: [],
          lagging: [`127.0.0.1:${stray.port}=203.0.113.99`],
        },
      ]);
      const text = await run([process.execPath, h.bundle, "--config", variant, "status", "--node", "pve1"]);
      expect(text.stdout).toContain(`(still answered elsewhere: 127.0.0.1:${stray.port}=203.0.113.99)`);
    } finally {
      await stray.stop();
    }
  });

  it("plan on a converged cluster says No changes. and exits 0", async () => {
    const r = await h.cli("pve1", ["plan", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const p = JSON.parse(r.stdout).data;
    expect(p.nodes.map((n: { node: string }) => n.node)).toEqual(["pve1", "pve2", "pve3"]);
    expect(p.dns.changes).toEqual([]);
    expect(p.summary).toEqual({ add: 0, update: 0, remove: 0 });
    const text = await h.cli("pve1", ["plan"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toBe("No changes.\n");
  });

  it("plan --json, reconcile --dry-run --json and what reconcile then applies are the same changes (exit 4 before)", async () => {
    // The config gives VM 101 a second name: one DNS change to make.
    const file = h.writeConfigVariant("extra-name", (doc) => {
      const vms = doc.vms as Record<string, { dns: string[] }>;
      vms["101"]!.dns.push("extra.example.org");
    });
    const cli = (args: string[]) =>
      run([process.execPath, h.bundle, "--config", file, ...args, "--node", "pve1"], { timeoutMs: 60_000 });
    const plan = await cli(["plan", "--json"]);
    expect(plan.code, plan.stderr).toBe(4);
    const planned = JSON.parse(plan.stdout).data.dns.changes;
    expect(planned).toEqual([
      { op: "add", backend: "dns", vmid: 101, key: "extra.example.org", after: "203.0.113.10" },
    ]);
    const text = await cli(["plan"]);
    expect(text.code).toBe(4);
    expect(text.stdout).toContain("dns:\n  + extra.example.org -> 203.0.113.10\n");
    expect(text.stdout).toContain("Plan: 1 to add, 0 to change, 0 to remove.");

    const dry = await cli(["reconcile", "--dry-run", "--json"]);
    expect(JSON.parse(dry.stdout).data.dns.plan).toEqual(planned);
    expect(await dig(h.primary.port, "extra.example.org", "A")).toEqual([]);

    const applied = await cli(["reconcile", "--json"]);
    expect(applied.code, applied.stderr).toBe(0);
    const updated = JSON.parse(applied.stdout).data.dns.outcomes.filter(
      (o: { status: string }) => o.status === "updated",
    );
    expect(
      updated.map((o: { name: string; a: string[] }) => ({ key: o.name, after: o.a.join(",") })),
    ).toEqual(planned.map((c: { key: string; after: string }) => ({ key: c.key, after: c.after })));
    expect((await cli(["plan"])).stdout).toBe("No changes.\n");
  });

  it("migrate refuses an unknown target, naming the argument, and changes nothing", async () => {
    const r = await h.cli("pve1", ["migrate", "101", "pve9"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/TARGET: unknown node "pve9"/);
    expect(h.sim.state.requests.filter((q) => q.method === "POST")).toEqual([]);
  });

  it("migrate refuses a VM id that is not a number", async () => {
    const r = await h.cli("pve1", ["migrate", "10x", "pve2"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/VMID: "10x" is not a VM id/);
  });

  it("migrate --dry-run checks and shows the plan without migrating", async () => {
    const r = await h.cli("pve1", ["migrate", "101", "pve3", "--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("VM 101: pve1 -> pve3 (online), checks passed");
    expect(r.stdout).toContain("tcp/2222 -> 22");
    expect(r.stdout).toContain("mail.example.org -> 203.0.113.30,2001:db8::30");
    expect(h.sim.state.requests.filter((q) => q.method === "POST")).toEqual([]);
  });

  it("migrate --dry-run --json gives the plan as change objects", async () => {
    const r = await h.cli("pve1", ["migrate", "101", "pve3", "--dry-run", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const { changes } = JSON.parse(r.stdout).data.plan;
    expect(changes).toContainEqual(
      expect.objectContaining({ op: "add", backend: "nat", node: "pve3", vmid: 101, key: "tcp/2222" }),
    );
    expect(changes).toContainEqual({
      op: "update",
      backend: "dns",
      vmid: 101,
      key: "mail.example.org",
      after: "203.0.113.30,2001:db8::30",
    });
    expect(h.sim.state.requests.filter((q) => q.method === "POST")).toEqual([]);
  });

  it("migrate moves the VM once, switches its names, verifies and summarizes", async () => {
    const r = await h.cli("pve1", ["migrate", "101", "pve3", "--no-wait"]);
    expect(r.stderr + r.stdout).toContain("migrated pve1 -> pve3");
    expect(r.code).toBe(0);
    expect(
      h.sim.state.requests.filter((q) => q.method === "POST" && q.path.endsWith("/migrate")),
    ).toHaveLength(1);
    expect(r.stdout).toMatch(/mail\.example\.org at 127\.0\.0\.1:\d+: 203\.0\.113\.30,2001:db8::30/);
    expect(r.stdout).toContain("forwards and routes verified on pve3: yes");
    expect(await dig(h.primary.port, "mail.example.org", "A")).toEqual(["203.0.113.30"]);
  });

  it("a failed migration exits 2 with the task's error and changes nothing", async () => {
    h.sim.failNextMigration("storage migration failed: no space left");
    const r = await h.cli("pve3", ["migrate", "101", "pve2", "--no-wait"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no space left/);
    expect(await dig(h.primary.port, "mail.example.org", "A")).toEqual(["203.0.113.30"]);
  });

  it("switch on a node that does not host the VM does nothing", async () => {
    const r = await h.cli("pve2", ["switch", "101", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).data.skipped).toMatch(
      /running on pve3, not running on pve2|not running on pve2/,
    );
    expect(JSON.parse(r.stdout).data.skipReason).toBe("not-running-here");
  });

  it("switch names a bad VMID or --from and exits 1", async () => {
    const unknownVm = await h.cli("pve3", ["switch", "999"]);
    expect(unknownVm.code).toBe(1);
    expect(unknownVm.stderr).toMatch(/VMID: VM 999 is not in the config/);
    const unknownNode = await h.cli("pve3", ["switch", "101", "--from", "pve9"]);
    expect(unknownNode.code).toBe(1);
    expect(unknownNode.stderr).toMatch(/--from: unknown node "pve9"/);
  });

  it("under ssh transport a node converges only itself (never another node's table on this host)", async () => {
    const ssh = h.writeConfigVariant("ssh", (doc) => {
      (doc as { remote: { transport: string } }).remote.transport = "ssh";
    });
    const r = await run([process.execPath, h.bundle, "--config", ssh, "apply", "--local", "--node", "pve2"], {
      env: { ...process.env, PVEMIGRATE_DNS_NODE: "pve1" },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--node: pve2 is not this host \(pve1\)/);
  });
});
