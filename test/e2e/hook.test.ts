import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STRICT_CHECK_MS } from "../../lib/orchestrate/hook.ts";
import { type HookRun, runHookProcess } from "../support/hook-process.ts";
import { dig, freePort } from "../support/named.ts";
import { missing } from "../support/requirements.ts";
import { sleep, until as untilHolds } from "../support/until.ts";
import { type Harness, startHarness, workerPids } from "./harness.ts";

// The BUILT hookscript bundle run the way Proxmox runs it: `<script> <vmid>
// <phase>` as its own process, config and node from the environment. Proxmox
// waits for the hook (no timeout) while a start or a live migration stands
// still, and reads its output until EOF, so every run is timed until its
// stdio closes: a detached worker that kept our pipes open would show here.

// A hang detector, not a speed claim: a hook that waits on a peer without a deadline never
// returns, and the suite runs its files in parallel on small, loaded CI machines where a plain
// hook run has taken over 3 s. Speed is measured in bench/hook-startup.ts, not asserted here.
const HOOK_BOUND_MS = 15_000;

const timings: Array<{ what: string; ms: number }> = [];

describe.skipIf(missing({ bins: ["named", "dig", "tsig-keygen"] }))(
  "hookscript bundle as Proxmox runs it",
  () => {
    let h: Harness;
    let strictConfig: string;
    let deleteOnStopConfig: string;

    beforeAll(async () => {
      h = await startHarness({
        config: (doc) => {
          // A stray worker must not outlive a failed test run by an hour.
          doc.migrationWatchSeconds = 60;
          const vms = doc.vms as Record<string, unknown>;
          // Two VMs that may share tcp/4444 because they never share a node... until one starts elsewhere.
          vms["104"] = { ip: "10.10.4.104", nodes: ["pve3"], forward: ["tcp/4444:22"] };
          vms["105"] = { ip: "10.10.5.105", nodes: ["pve1"], forward: ["tcp/4444:22"] };
        },
      });
      h.sim.addVm({ vmid: 105, node: "pve1" });
      strictConfig = h.writeConfigVariant("strict", (doc) => {
        doc.strict = true;
      });
      deleteOnStopConfig = h.writeConfigVariant("delete-on-stop", (doc) => {
        (doc.dns as Record<string, unknown>).deleteOnStop = true;
      });
    }, 90_000);

    afterAll(async () => {
      if (!h) return;
      try {
        killWorkers(h);
      } finally {
        await h.stop();
      }
      const line = timings.map((t) => `${t.what} ${t.ms.toFixed(0)}ms`).join(", ");
      process.stderr.write(`hook wall times (bound ${HOOK_BOUND_MS} ms): ${line}\n`);
    });

    /** Runs the hookscript like Proxmox does and checks the two things every phase owes it. */
    async function hook(
      node: string,
      args: string[],
      opts: { config?: string; env?: Record<string, string>; boundMs?: number } = {},
    ): Promise<HookRun> {
      const r = await runHookProcess(h.hookscript, args, {
        PVEMIGRATE_DNS_CONFIG: opts.config ?? h.configFile,
        PVEMIGRATE_DNS_NODE: node,
        ...opts.env,
      });
      timings.push({ what: `${node}:${args.join(" ")}`, ms: r.ms });
      expect(r.ms, `${args.join(" ")} on ${node} took ${r.ms} ms`).toBeLessThan(
        opts.boundMs ?? HOOK_BOUND_MS,
      );
      // Only stderr reaches the task log of a live migration; stdout must stay empty.
      expect(r.stdout).toBe("");
      return r;
    }

    const journalOf = (node: string) => h.runtime(node).state.local.list();
    const workerLog = (node: string) => {
      const file = join(h.dir, "state", node, "worker.log");
      return existsSync(file) ? readFileSync(file, "utf8") : "";
    };

    it("bad vmid or phase: exit 1 with one line naming the argument, nothing recorded", async () => {
      const cases: Array<[string[], string]> = [
        [["abc", "pre-start"], "vmid"],
        [["0101", "post-start"], "vmid"],
        [[], "vmid"],
        [["101"], "phase"],
        [["101", "start"], "phase"],
        [["101", "__Worker"], "phase"],
      ];
      for (const [args, named] of cases) {
        const r = await hook("pve1", args);
        expect(r.code, `${JSON.stringify(args)}: ${r.stderr}`).toBe(1);
        expect(r.stderr.trimEnd().split("\n"), r.stderr).toHaveLength(1);
        expect(r.stderr).toContain(named);
      }
      expect(await journalOf("pve1")).toEqual([]);
    });

    it("a VM not in the config: every phase exits 0 silently; the worker finds no Notes block and does nothing", async () => {
      for (const phase of ["pre-start", "post-start", "pre-stop", "post-stop"]) {
        const r = await hook("pve1", ["999", phase], { env: { PVE_MIGRATED_FROM: "pve2" } });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toBe("");
      }
      // Only the API knows whether its Notes configure it: the worker asks, then clears the journal.
      await waitForWorkers(h);
      expect(await journalOf("pve1")).toEqual([]);
      expect(readFileSync(join(h.dir, "state", "pve1", "worker.log"), "utf8")).toContain(
        "VM 999: not in the config (file or Notes); nothing to do",
      );
      expect(await dig(h.primary.port, "mail.example.org", "A")).toEqual([]);
    });

    it("a broken config never blocks a start: every phase exits 0 with a message naming the problem", async () => {
      const typo = join(h.dir, "broken.yaml");
      writeFileSync(
        typo,
        readFileSync(h.configFile, "utf8").replace("publicIPv4: 203.0.113.10", "publicIpv4: x"),
      );
      const broken: Array<{ config: string; node: string; says: string }> = [
        { config: typo, node: "pve1", says: "publicIpv4" },
        { config: join(h.dir, "does-not-exist.yaml"), node: "pve1", says: "does-not-exist.yaml" },
        { config: h.configFile, node: "pve9", says: "pve9" },
      ];
      for (const b of broken) {
        for (const phase of ["pre-start", "post-start", "pre-stop", "post-stop"]) {
          const r = await hook(b.node, ["101", phase], { config: b.config });
          expect(r.code, r.stderr).toBe(0);
          expect(r.stderr.trimEnd().split("\n"), r.stderr).toHaveLength(1);
          expect(r.stderr).toContain(b.says);
          expect(r.stderr).toContain("doing nothing");
        }
      }
      expect(workerPids(h)).toEqual([]);
    });

    it("a state dir that cannot be written never aborts a start or an incoming live migration", async () => {
      // Under a regular file: ENOTDIR, which root cannot override the way it overrides modes.
      writeFileSync(join(h.dir, "not-a-dir"), "");
      const config = h.writeConfigVariant("bad-state", (doc) => {
        doc.stateDir = join(h.dir, "not-a-dir", "{node}");
      });
      for (const phase of ["pre-start", "post-start", "pre-stop", "post-stop"]) {
        const r = await hook("pve3", ["101", phase], { config, env: { PVE_MIGRATED_FROM: "pve1" } });
        expect(r.code, `${phase}: ${r.stderr}`).toBe(0);
        if (phase === "pre-stop") continue; // records nothing
        expect(r.stderr.trimEnd().split("\n"), r.stderr).toHaveLength(1);
        expect(r.stderr).toContain(`hook ${phase} VM 101: ENOTDIR`);
      }
      expect(workerPids(h)).toEqual([]);
    });

    it("a state dir under /proc (where a recursive mkdir never returns) never hangs a start", async () => {
      // Node 20's mkdir(..., {recursive: true}) spins forever on /proc/self/<missing>/x: every
      // mkdir there is ENOENT while the parent exists. The bound is a hang catcher, not a speed check.
      const config = h.writeConfigVariant("proc-state", (doc) => {
        doc.stateDir = "/proc/self/pvemigrate-dns-missing/{node}";
      });
      for (const phase of ["pre-start", "post-start", "post-stop"]) {
        const r = await hook("pve3", ["101", phase], {
          config,
          env: { PVE_MIGRATED_FROM: "pve1" },
          boundMs: 25_000,
        });
        expect(r.code, `${phase}: ${r.stderr}`).toBe(0);
        expect(r.stderr.trimEnd().split("\n"), r.stderr).toHaveLength(1);
        expect(r.stderr).toContain(`hook ${phase} VM 101: ENOENT`);
      }
      expect(workerPids(h)).toEqual([]);
    }, 90_000);

    it("strict pre-start refuses a VM whose forward collides with a VM running on the node", async () => {
      const refused = await hook("pve1", ["104", "pre-start"], { config: strictConfig });
      expect(refused.code, refused.stderr).toBe(1);
      expect(refused.stderr).toContain("refusing to start VM 104 on pve1 (strict)");
      expect(refused.stderr).toContain("tcp/4444 is held by VM 105 on pve1");

      // Not strict: the start goes ahead (reconcile reports the conflict).
      const lenient = await hook("pve1", ["104", "pre-start"]);
      expect(lenient.code, lenient.stderr).toBe(0);
      // Strict, on a node where nothing collides.
      const fine = await hook("pve3", ["104", "pre-start"], { config: strictConfig });
      expect(fine.code, fine.stderr).toBe(0);
      expect(fine.stderr).toBe("");
      // Strict, but the API cannot tell (nothing listens there): never block a start on our own trouble.
      const closedPort = await freePort();
      const blindConfig = h.writeConfigVariant("strict-blind", (doc) => {
        doc.strict = true;
        (doc.proxmox as Record<string, unknown>).endpoints = [`http://127.0.0.1:${closedPort}`];
      });
      const blind = await hook("pve1", ["104", "pre-start"], { config: blindConfig });
      expect(blind.code, blind.stderr).toBe(0);
      expect(blind.stderr).toContain("starting anyway");

      // Strict, and the API accepts connections but never answers (a hung pveproxy): the start
      // must not wait for the client's request timeout (10 s by default), let alone per endpoint.
      const hung = await hungServer();
      try {
        const hungConfig = h.writeConfigVariant("strict-hung", (doc) => {
          doc.strict = true;
          (doc.proxmox as Record<string, unknown>).endpoints = [
            hung.url,
            hung.url.replace("127.0.0.1", "127.0.0.2"),
          ];
        });
        // Its own deadline plus the usual bound: far from the 10 s it took before.
        const stuck = await hook("pve1", ["104", "pre-start"], {
          config: hungConfig,
          boundMs: STRICT_CHECK_MS + HOOK_BOUND_MS,
        });
        expect(stuck.code, stuck.stderr).toBe(0);
        expect(stuck.stderr).toContain("starting anyway");
        expect(hung.connections()).toBeGreaterThan(0); // it really asked
      } finally {
        await hung.stop();
      }
    });

    it("post-start after a plain start: the detached worker points the VM's names at the node", async () => {
      expect(await dig(h.primary.port, "shop.example.org", "A")).toEqual([]);
      expect((await hook("pve2", ["102", "pre-start"])).code).toBe(0);
      const r = await hook("pve2", ["102", "post-start"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain("VM 102 post-start: switch recorded");
      await until("shop.example.org -> pve2", async () => {
        const a = await dig(h.primary.port, "shop.example.org", "A");
        return a.join() === "203.0.113.20";
      });
      expect(await dig(h.primary.port, "www.example.org", "A")).toEqual(["203.0.113.20"]);
      await waitForWorkers(h);
      expect(await journalOf("pve2")).toEqual([]);
    });

    it("live migration: nothing switches while the migration is in flight, then the names follow", async () => {
      // Where VM 101 starts from: its names at pve1.
      expect((await hook("pve1", ["101", "post-start"])).code).toBe(0);
      await until("mail.example.org -> pve1", async () => {
        return (await dig(h.primary.port, "mail.example.org", "A")).join() === "203.0.113.10";
      });
      await waitForWorkers(h);

      h.sim.setMigrationDelay(1000);
      // The memory transfer waits for the test: the in-flight checks never race a timer.
      h.sim.holdMigrations();
      const vm = h.sim.state.vm(101);
      h.sim.migrate(101, "pve2", { online: true });
      // Proxmox runs the TARGET's start hooks when the incoming QEMU launches, before the switch-over.
      const env = { PVE_MIGRATED_FROM: "pve1" };
      expect((await hook("pve2", ["101", "pre-start"], { env })).code).toBe(0);
      const post = await hook("pve2", ["101", "post-start"], { env });
      expect(post.code, post.stderr).toBe(0);
      expect(post.stderr).toContain("(migrating from pve1)");

      // In flight (held in its memory transfer): the worker waits, the names stay at pve1.
      for (let i = 0; i < 5; i++) {
        await sleep(300);
        expect(vm.lock).toBe("migrate");
        expect(vm.node).toBe("pve1");
        expect(await dig(h.primary.port, "mail.example.org", "A")).toEqual(["203.0.113.10"]);
      }
      h.sim.releaseMigrations();
      await until("the config to move to pve2", async () => vm.node === "pve2");
      await until("mail.example.org -> pve2", async () => {
        return (await dig(h.primary.port, "mail.example.org", "A")).join() === "203.0.113.20";
      });
      await waitForWorkers(h);
      expect(await journalOf("pve2")).toEqual([]);
    }, 40_000);

    it("a failed live migration changes nothing", async () => {
      expect(await dig(h.primary.port, "shop.example.org", "A")).toEqual(["203.0.113.20"]);
      h.sim.setMigrationDelay(1500);
      h.sim.failNextMigration("storage migration failed: disk full");
      const vm = h.sim.state.vm(102);
      h.sim.migrate(102, "pve3", { online: true });
      const env = { PVE_MIGRATED_FROM: "pve2" };
      expect((await hook("pve3", ["102", "pre-start"], { env })).code).toBe(0);
      // Without the variable this time: pre-start recorded where the VM comes from.
      const post = await hook("pve3", ["102", "post-start"]);
      expect(post.code, post.stderr).toBe(0);
      expect(post.stderr).toContain("(migrating from pve2)");

      await waitForWorkers(h, 20_000);
      expect(vm.node).toBe("pve2");
      expect(workerLog("pve3")).toContain("VM 102: migration from pve2 did not complete; nothing changed");
      expect(await dig(h.primary.port, "shop.example.org", "A")).toEqual(["203.0.113.20"]);
      expect(await dig(h.primary.port, "www.example.org", "A")).toEqual(["203.0.113.20"]);
      expect(await journalOf("pve3")).toEqual([]);
    }, 30_000);

    it("post-stop: the worker withdraws the VM (names deleted with deleteOnStop)", async () => {
      // Without deleteOnStop a stop keeps the names (the VM comes back at the same place).
      h.sim.stopVm(102);
      expect((await hook("pve2", ["102", "pre-stop"])).code).toBe(0);
      const kept = await hook("pve2", ["102", "post-stop"]);
      expect(kept.code, kept.stderr).toBe(0);
      expect(kept.stderr).toContain("VM 102 post-stop: switch recorded");
      await waitForWorkers(h);
      expect(await journalOf("pve2")).toEqual([]);
      expect(await dig(h.primary.port, "shop.example.org", "A")).toEqual(["203.0.113.20"]);

      // With deleteOnStop the names go.
      h.sim.stopVm(101);
      const config = deleteOnStopConfig;
      expect((await hook("pve2", ["101", "pre-stop"], { config })).code).toBe(0);
      expect((await hook("pve2", ["101", "post-stop"], { config })).code).toBe(0);
      await until("mail.example.org withdrawn", async () => {
        return (await dig(h.primary.port, "mail.example.org", "A")).length === 0;
      });
      await waitForWorkers(h);
      expect(await dig(h.primary.port, "mail.example.org", "AAAA")).toEqual([]);
      expect(await journalOf("pve2")).toEqual([]);
      // Another VM's names are not touched.
      expect(await dig(h.primary.port, "shop.example.org", "A")).toEqual(["203.0.113.20"]);
    }, 30_000);
  },
);

/** Polls as the worker's own steps are paced: every 150 ms. */
const until = (what: string, check: () => Promise<boolean>) => untilHolds(what, check, { pollMs: 150 });

/** A TCP listener on loopback that accepts and never answers. */
async function hungServer(): Promise<{ url: string; connections(): number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server = createServer((s) => {
    count++;
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => count,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function waitForWorkers(h: Harness, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (workerPids(h).length > 0) {
    if (Date.now() > deadline) {
      const log = readdirSync(join(h.dir, "state"))
        .map(
          (n) =>
            `${n}: ${existsSync(join(h.dir, "state", n, "worker.log")) ? readFileSync(join(h.dir, "state", n, "worker.log"), "utf8") : ""}`,
        )
        .join("\n");
      throw new Error(
        `hook workers still running after ${timeoutMs} ms (pids ${workerPids(h).join(", ")}):\n${log}`,
      );
    }
    await sleep(100);
  }
}

function killWorkers(h: Harness): void {
  for (const pid of workerPids(h)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {} // exited meanwhile
  }
}
