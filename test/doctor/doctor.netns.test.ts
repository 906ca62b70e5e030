import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config/load.ts";
import { formatReport } from "../../lib/doctor/report.ts";
import { runDoctor } from "../../lib/doctor/run.ts";
import type { DoctorReport, Finding } from "../../lib/doctor/types.ts";
import { convergeNode } from "../../lib/orchestrate/converge.ts";
import { createRuntime } from "../../lib/orchestrate/runtime.ts";
import { run, runChecked } from "../../lib/process/run.ts";
import { haproxyCommand } from "../../lib/proxy/admin-socket.ts";
import { renderHaproxyConfig } from "../../lib/proxy/haproxy-config.ts";
import { type Harness, startHarness } from "../e2e/harness.ts";
import { installBelow } from "../support/install.ts";
import { missing } from "../support/requirements.ts";

// The node-side checks against the real programs: nft reads the table inside
// a network namespace standing for node pve1, HAProxy runs in that namespace
// (its admin socket is a path in our temp dir). The remedy the doctor hints
// at (reconcile) is what turns its warnings into ok.

const of = (r: DoctorReport, check: Finding["check"]) => r.findings.filter((f) => f.check === check);
const text = (r: DoctorReport) => formatReport(r).join("\n");

describe.skipIf(missing({ root: true, bins: ["ip", "nft", "haproxy", "named", "dig", "tsig-keygen"] }))(
  "doctor with nft and HAProxy in a network namespace",
  () => {
    const ns = `pvmdoc-${process.pid}`;
    let h: Harness;
    let configFile: string;
    let haproxy: ChildProcess | undefined;
    let socket: string;
    let mapDir: string;
    let rootDir: string;

    beforeAll(async () => {
      await run(["ip", "netns", "del", ns]); // left over by a killed run with the same pid
      await runChecked(["ip", "netns", "add", ns]);
      await runChecked(["ip", "-n", ns, "link", "set", "lo", "up"]);
      h = await startHarness();
      socket = join(h.dir, "admin.sock");
      mapDir = join(h.dir, "maps");
      rootDir = join(h.dir, "root");
      installBelow(rootDir, join(h.dir, "dist"));
      await runChecked(["systemctl", `--root=${rootDir}`, "enable", "pvemigrate-dns-reconcile.timer"]);
      configFile = h.writeConfigVariant("netns", (doc) => {
        doc.nat = { backend: "nftables", table: "pvemigrate" };
        doc.proxy = { backend: "haproxy", socket, mapDir, httpsPort: 8443, httpPort: 8080 };
        doc.remote = { ...(doc.remote as object), netns: { pve1: ns } };
      });
    }, 90_000);

    afterAll(async () => {
      haproxy?.kill("SIGKILL");
      await run(["ip", "netns", "del", ns]);
      await h?.stop();
    });

    const doctor = () =>
      runDoctor({ load: loadConfig, configPath: configFile, node: "pve1", rootDir, local: true });

    it("net.ipv4.ip_forward is read inside the node: 0 (a new namespace's default) fails, 1 is ok", async () => {
      let r = await doctor();
      expect(of(r, "ip-forward"), text(r)).toEqual([
        expect.objectContaining({
          status: "fail",
          message: expect.stringMatching(/^net\.ipv4\.ip_forward = 0: /),
          hint: expect.stringContaining("sysctl -w net.ipv4.ip_forward=1"),
        }),
      ]);
      expect(r.exitCode).toBe(2);
      await runChecked(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
      r = await doctor();
      expect(of(r, "ip-forward")).toEqual([
        { check: "ip-forward", status: "ok", message: "net.ipv4.ip_forward = 1" },
      ]);
    });

    it("before the first reconcile: no table, no maps, no haproxy -> warnings with hints, exit 0", async () => {
      const r = await doctor();
      expect(of(r, "nft"), text(r)).toEqual([
        {
          check: "nft",
          status: "warn",
          message: "table ip pvemigrate does not exist: no forwards are in place on this node",
          hint: expect.stringContaining("pvemigrate-dns reconcile"),
        },
      ]);
      const proxy = of(r, "proxy");
      expect(proxy.map((f) => f.status)).toEqual(["warn", "warn"]);
      expect(proxy[0]!.message).toContain(socket);
      expect(proxy[1]!.message).toContain(join(mapDir, "sni.map"));
      expect(r.exitCode).toBe(0);
    });

    it("after a real converge and with HAProxy running: nft and proxy are ok", async () => {
      const rt = createRuntime(await loadConfig(configFile), { node: "pve1", log: () => {} });
      await convergeNode(rt, "pve1");
      const cfg = join(h.dir, "haproxy.cfg");
      writeFileSync(
        cfg,
        renderHaproxyConfig({ socket, mapDir, httpsPort: 8443, httpPort: 8080, proxyProtocol: false }),
      );
      haproxy = spawn("ip", ["netns", "exec", ns, "haproxy", "-db", "-f", cfg], { stdio: "ignore" });
      for (let i = 0; !(await haproxyCommand(socket, "show info").catch(() => "")).includes("Pid:"); i++) {
        if (i > 100 || haproxy.exitCode !== null)
          throw new Error(`haproxy did not come up (${haproxy.exitCode})`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const r = await doctor();
      expect(of(r, "nft"), text(r)).toEqual([
        { check: "nft", status: "ok", message: "table ip pvemigrate is present" },
      ]);
      expect(of(r, "proxy").map((f) => [f.status, f.message])).toEqual([
        ["ok", expect.stringMatching(new RegExp(`^haproxy 2\\.\\S+ answers on ${socket}$`))],
        ["ok", `map files present in ${mapDir}`],
      ]);
      expect(r.exitCode).toBe(0);
    });

    it("nftables.service enabled with flush ruleset: warns that a restart wipes the table", async () => {
      mkdirSync(join(rootDir, "etc", "systemd", "system", "multi-user.target.wants"), { recursive: true });
      writeFileSync(join(rootDir, "etc", "nftables.conf"), "#!/usr/sbin/nft -f\n\nflush ruleset\n");
      let r = await doctor();
      expect(of(r, "nftables.service")[0]).toMatchObject({ status: "ok" });
      symlinkSync(
        "/lib/systemd/system/nftables.service",
        join(rootDir, "etc", "systemd", "system", "multi-user.target.wants", "nftables.service"),
      );
      r = await doctor();
      expect(of(r, "nftables.service")).toEqual([
        expect.objectContaining({
          status: "warn",
          message: expect.stringContaining("wipes table ip pvemigrate"),
        }),
      ]);
      expect(r.exitCode).toBe(0);
    });
  },
);
