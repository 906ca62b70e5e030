import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIN_NODE } from "../lib/node-version.ts";
import { run } from "../lib/process/run.ts";
import { type Harness, startHarness, workerPids } from "./e2e/harness.ts";
import { type HookRun, runHookProcess } from "./support/hook-process.ts";
import { dig } from "./support/named.ts";
import { missingNode18, NODE18 } from "./support/node18.ts";
import { until as untilHolds } from "./support/until.ts";

// Proxmox VE 8 (Debian 12) ships Node.js 18: the BUILT bundles' smoke tests
// under the oldest Node they promise (package.json engines), by absolute path,
// while the runner stays on the development Node. The config check, the
// hookscript's phases with its detached worker (Proxmox API client, DNS
// UPDATE to a real named), and a `dns set` from the CLI.

const root = join(import.meta.dirname, "..");

describe.skipIf(missingNode18(["named", "dig", "tsig-keygen"]))("the bundles under Node.js 18", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      config: (doc, { dir }) => {
        // Other nodes' `apply --local` run the bundle under Node 18 too.
        (doc.remote as Record<string, unknown>).command = [NODE18, join(dir, "dist", "pvemigrate-dns.mjs")];
        (doc.dns as Record<string, unknown>).deleteOnStop = true;
        doc.migrationWatchSeconds = 60;
      },
    });
  }, 90_000);
  afterAll(async () => {
    if (!h) return;
    try {
      for (const pid of workerPids(h)) process.kill(pid, "SIGKILL");
    } finally {
      await h.stop();
    }
  });

  const cli = (args: string[]) => run([NODE18, h.bundle, ...args], { timeoutMs: 60_000 });

  it("the binary is the minimum the bundles promise", () => {
    const r = spawnSync(NODE18, ["-p", "process.versions.node"], { encoding: "utf8" });
    expect(r.stdout.trim()).toBe(MIN_NODE.join("."));
  });

  it("config check passes on examples/cluster.yaml", async () => {
    const r = await cli(["config", "check", "--config", join(root, "examples", "cluster.yaml"), "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).ok).toBe(true);
    expect(r.stderr).toBe("");
  });

  it("hook phases: pre-start and post-start point the names at the node, post-stop withdraws them", async () => {
    expect(await dig(h.primary.port, "shop.example.org", "A")).toEqual([]);
    const pre = await hook("pve2", ["102", "pre-start"]);
    expect(pre).toMatchObject({ code: 0, stdout: "", stderr: "" });
    const post = await hook("pve2", ["102", "post-start"]);
    expect(post.code, post.stderr).toBe(0);
    expect(post.stderr).toContain("VM 102 post-start: switch recorded");
    await until(
      "shop.example.org -> pve2",
      async () => (await dig(h.primary.port, "shop.example.org", "A")).join() === "203.0.113.20",
      () => workerLogs(h),
    );
    expect(await dig(h.primary.port, "www.example.org", "A")).toEqual(["203.0.113.20"]);
    await until("the worker finished", async () => workerPids(h).length === 0);
    expect(await h.runtime("pve2").state.local.list()).toEqual([]);

    h.sim.stopVm(102);
    expect((await hook("pve2", ["102", "pre-stop"])).code).toBe(0);
    const stop = await hook("pve2", ["102", "post-stop"]);
    expect(stop.code, stop.stderr).toBe(0);
    await until(
      "shop.example.org withdrawn",
      async () => (await dig(h.primary.port, "shop.example.org", "A")).length === 0,
      () => workerLogs(h),
    );
    await until("the worker finished", async () => workerPids(h).length === 0);
    expect(await h.runtime("pve2").state.local.list()).toEqual([]);
    expect(workerLogs(h)).not.toMatch(/TypeError|ReferenceError|is not a function/);
  }, 60_000);

  it("dns set updates a real named through the CLI bundle", async () => {
    const r = await cli([
      "--config",
      h.configFile,
      "dns",
      "set",
      "node18.example.org",
      "192.0.2.18",
      "--expect",
      "none",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/node18\.example\.org: set to 192\.0\.2\.18, accepted by 127\.0\.0\.1:\d+/);
    expect(await dig(h.primary.port, "node18.example.org", "A")).toEqual(["192.0.2.18"]);
  });

  /** The hookscript as Proxmox runs it, config and node from the environment; its worker inherits Node 18. */
  function hook(node: string, args: string[]): Promise<HookRun> {
    return runHookProcess(NODE18, [h.hookscript, ...args], {
      PVEMIGRATE_DNS_CONFIG: h.configFile,
      PVEMIGRATE_DNS_NODE: node,
    });
  }
});

/** Polls every 150 ms for up to 20 s; the failure names `what` and shows `context()` (the workers' logs). */
const until = (what: string, check: () => Promise<boolean>, context?: () => string) =>
  untilHolds(what, check, { pollMs: 150, ...(context ? { context } : {}) });

function workerLogs(h: Harness): string {
  return readdirSync(join(h.dir, "state"))
    .map((n) => {
      try {
        return readFileSync(join(h.dir, "state", n, "worker.log"), "utf8");
      } catch {
        return "";
      }
    })
    .join("\n");
}
