import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../lib/process/run.ts";
import { haproxyMapPath } from "../../lib/proxy/haproxy-config.ts";
import { missing } from "../support/requirements.ts";
import { type Harness, startHarness } from "./harness.ts";

// octoDNS' safety threshold: a config that lost most of its VMs would remove
// most of the node's routes and withdraw most names in one run. reconcile
// refuses that (exit 1, nothing changed) and applies it with --force. The
// routes are real HAProxy map files (no HAProxy running), the names live in a
// real named.

const VMIDS = Array.from({ length: 12 }, (_, i) => 101 + i);

describe.skipIf(missing({ bins: ["named"] }))("reconcile's safety threshold", () => {
  let h: Harness;
  let shrunk: string;
  beforeAll(async () => {
    h = await startHarness({
      secondary: false,
      sim: { vms: VMIDS.map((vmid) => ({ vmid, node: "pve1" })) },
      config: (doc, { dir }) => {
        doc.proxy = {
          backend: "haproxy",
          socket: join(dir, "{node}", "no-haproxy.sock"),
          mapDir: join(dir, "{node}", "maps"),
        };
        doc.vms = Object.fromEntries(
          VMIDS.map((vmid) => [
            vmid,
            { ip: `10.10.1.${vmid}`, dns: [`vm${vmid}.example.org`], sni: [`vm${vmid}.example.org`] },
          ]),
        );
      },
    });
    // The same cluster, but the file kept only two of the twelve VMs.
    shrunk = h.writeConfigVariant("shrunk", (doc) => {
      const vms = doc.vms as Record<string, unknown>;
      for (const vmid of VMIDS.slice(2)) delete vms[vmid];
    });
  }, 60_000);
  afterAll(async () => h?.stop());

  const sniRoutes = () =>
    readFileSync(haproxyMapPath(join(h.dir, "pve1", "maps"), "sni"), "utf8")
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("#"));
  const reconcile = (config: string, extra: string[] = []) =>
    run([process.execPath, h.bundle, "--config", config, "reconcile", "--json", ...extra, "--node", "pve1"], {
      timeoutMs: 60_000,
    });
  const names = async () => (await h.runtime("pve1").state.claimedNames.read())?.size ?? 0;

  it("refuses to remove most routes and names without --force (exit 1, nothing changed), applies them with it", async () => {
    const first = await reconcile(h.configFile);
    expect(first.code, first.stderr).toBe(0);
    expect(sniRoutes()).toHaveLength(12);
    expect(await names()).toBe(12);

    const refused = await reconcile(shrunk);
    expect(refused.code, refused.stdout).toBe(1);
    const report = JSON.parse(refused.stdout).data as { unsafe: string[] };
    expect(report.unsafe).toEqual([
      expect.stringMatching(/^node pve1: .* 10 of 12 managed forwards and routes .*--force/),
      expect.stringMatching(/^dns: .* 10 of 12 managed names .*--force/),
    ]);
    expect(sniRoutes()).toHaveLength(12);
    expect(await names()).toBe(12);

    const forced = await reconcile(shrunk, ["--force"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(sniRoutes()).toEqual(["vm101.example.org 10.10.1.101:443", "vm102.example.org 10.10.1.102:443"]);
    const applied = JSON.parse(forced.stdout).data as { unsafe: string[]; dns: { withdrawn: string[] } };
    expect(applied.unsafe).toEqual([]);
    expect(applied.dns.withdrawn).toHaveLength(10);
  }, 120_000);
});
