import { createSocket } from "node:dgram";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config/load.ts";
import { formatReport } from "../../lib/doctor/report.ts";
import { type DoctorOptions, runDoctor } from "../../lib/doctor/run.ts";
import type { DoctorReport, Finding } from "../../lib/doctor/types.ts";
import { run, runChecked } from "../../lib/process/run.ts";
import { defineKind } from "../../lib/state/index.ts";
import { type Harness, startHarness } from "../e2e/harness.ts";
import { installBelow } from "../support/install.ts";
import { freePort } from "../support/named.ts";
import { missing } from "../support/requirements.ts";

// doctor against the simulated Proxmox API (127.0.0.1) and real BIND
// primary + secondary (127.0.0.1): every finding comes from a real answer or
// a real refusal. Node backends are off here (see doctor.netns.test.ts).

const HOOK = "local:snippets/pvemigrate-dns.mjs";
const OTHER_TOKEN = "0badc0de-0000-4000-8000-000000000000";

const of = (r: DoctorReport, check: Finding["check"]) => r.findings.filter((f) => f.check === check);
const text = (r: DoctorReport) => formatReport(r).join("\n");

describe.skipIf(missing({ bins: ["named", "dig", "tsig-keygen"] }))("doctor on sim + named", () => {
  let h: Harness;
  let root: string;
  // --local (this node's hookscript file only) unless a test is about the other nodes: each
  // other node costs two node processes per run.
  const doctor = (opts: DoctorOptions = {}) =>
    runDoctor({
      load: loadConfig,
      configPath: h.configFile,
      node: "pve1",
      rootDir: root,
      local: true,
      ...opts,
    });

  beforeAll(async () => {
    h = await startHarness({
      sim: {
        vms: [
          { vmid: 101, node: "pve1", config: { name: "mail", hookscript: HOOK } },
          { vmid: 102, node: "pve2", config: { name: "shop", hookscript: HOOK } },
        ],
      },
    });
    root = mkdtempSync(join(tmpdir(), `pvemigrate-doctor-${process.pid}-`));
    // The hookscript file doctor runs on every node, installed the way an admin does (below root).
    installBelow(root, join(h.dir, "dist"));
    // install.sh --no-enable leaves the timer off: enable it the way an admin does (below root).
    await runChecked(["systemctl", `--root=${root}`, "enable", "pvemigrate-dns-reconcile.timer"]);
  }, 90_000);
  afterAll(async () => {
    if (root) rmSync(root, { recursive: true, force: true });
    await h?.stop();
  });

  it("a healthy node: every check ok, exit 0", async () => {
    const r = await doctor({ local: false });
    expect(
      r.findings.filter((f) => f.status !== "ok"),
      text(r),
    ).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.node).toBe("pve1");
    expect(of(r, "dns").map((f) => f.message)).toEqual([
      expect.stringContaining(`master 127.0.0.1:${h.primary.port} answers SOA for example.org`),
      expect.stringContaining(`master 127.0.0.1:${h.secondary!.port} answers SOA for example.org`),
    ]);
    expect(of(r, "proxmox").map((f) => f.message)).toEqual([
      `${h.sim.url} answers /cluster/status (3 node(s))`,
      "node pve1 is online in the cluster",
    ]);
    expect(of(r, "quorum")[0]?.status).toBe("ok");
    expect(of(r, "dns-update").map((f) => f.message)).toEqual([
      `key "pvemigrate-key" may update example.org at 127.0.0.1:${h.primary.port}, 127.0.0.1:${h.secondary!.port}`,
    ]);
    expect(of(r, "clock").map((f) => f.status)).toEqual(["ok"]);
    expect(of(r, "timer").map((f) => f.message)).toEqual(["pvemigrate-dns-reconcile.timer is enabled"]);
    expect(r.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(of(r, "hookscript").map((f) => f.message)).toEqual([`VM 101 runs hookscript ${HOOK}`]);
    // pve2 and pve3 answer through their own CLI (the netns transport runs it here as --node pveN).
    expect(of(r, "hookscript-file").map((f) => f.message)).toEqual(
      ["pve1", "pve2", "pve3"].map((n) =>
        expect.stringMatching(
          new RegExp(`^${n}: ${root}/var/lib/vz/snippets/pvemigrate-dns\\.mjs starts as Proxmox runs it`),
        ),
      ),
    );
  });

  it("a master down fails naming that master; the other stays ok; exit 2", async () => {
    const closed = await freePort(); // nothing listens there: the kernel refuses
    const file = h.writeConfigVariant("master-down", (doc) => {
      const dns = doc.dns as { masters: string[] };
      dns.masters = [dns.masters[0]!, `127.0.0.1:${closed}`];
    });
    const r = await doctor({ configPath: file });
    const dns = of(r, "dns");
    expect(dns.map((f) => f.status)).toEqual(["ok", "fail"]);
    // --local: only this node's hookscript file.
    expect(of(r, "hookscript-file").map((f) => [f.status, f.message.split(":")[0]])).toEqual([
      ["ok", "pve1"],
    ]);
    expect(dns[1]!.message).toContain(`master 127.0.0.1:${closed}`);
    expect(dns[1]!.message).toMatch(/refused/);
    expect(dns[1]!.hint).toMatch(/nothing listens/);
    expect(r.exitCode).toBe(2);
    expect(text(r)).toMatch(new RegExp(`^FAIL dns: master 127\\.0\\.0\\.1:${closed}: .* -> `, "m"));
  });

  it("a silent master is a timeout, told apart from a refusal", async () => {
    // A UDP socket that reads and never answers: what a firewall that drops looks like.
    const silent = createSocket("udp4");
    await new Promise<void>((resolve) => silent.bind(0, "127.0.0.1", resolve));
    try {
      const port = silent.address().port;
      const file = h.writeConfigVariant("master-silent", (doc) => {
        (doc.dns as { masters: string[] }).masters = [`127.0.0.1:${port}`];
      });
      const r = await doctor({ configPath: file });
      expect(of(r, "dns")).toEqual([
        {
          check: "dns",
          status: "fail",
          // The remaining budget is reported: 500 ms, or a millisecond less when the clock ticked.
          message: expect.stringMatching(
            new RegExp(`^master 127\\.0\\.0\\.1:${port}: no answer within (49\\d|500) ms \\(udp\\)$`),
          ),
          hint: expect.stringMatching(/^timeout: /),
        },
      ]);
      expect(r.exitCode).toBe(2);
    } finally {
      silent.close();
    }
  });

  it("a key the server does not know: BADKEY with a hint naming the key", async () => {
    const file = h.writeConfigVariant("tsig-unknown", (doc) => {
      (doc.dns as { tsig: { name: string } }).tsig.name = "nobody-key";
    });
    const r = await doctor({ configPath: file });
    const dns = of(r, "dns");
    expect(dns[0]!.message).toMatch(/NOTAUTH.*BADKEY/);
    expect(dns[0]!.hint).toMatch(/does not know key "nobody-key" \(hmac-sha256\)/);
  });

  it("a token without privileges (403) and a cluster without quorum fail with their own hints", async () => {
    h.sim.injectFault({
      method: "GET",
      path: /\/cluster\/status$/,
      status: 403,
      reason: "Permission check failed",
    });
    let r = await doctor();
    expect(of(r, "proxmox")[0]).toMatchObject({
      status: "fail",
      message: expect.stringContaining("403 Permission check failed"),
      hint: expect.stringMatching(/Sys\.Audit/),
    });
    h.sim.setQuorate(false);
    try {
      r = await doctor();
      expect(of(r, "quorum")).toEqual([
        expect.objectContaining({ status: "fail", message: expect.stringMatching(/NOT quorate/) }),
      ]);
      expect(r.exitCode).toBe(2);
    } finally {
      h.sim.setQuorate(undefined);
    }
  });

  it("a wrong TSIG secret: BADSIG from BIND, hint names the secret file, no secret printed", async () => {
    writeFileSync(join(h.dir, "tsig-wrong"), `${Buffer.alloc(32, 7).toString("base64")}\n`, { mode: 0o600 });
    const file = h.writeConfigVariant("tsig-wrong", (doc) => {
      (doc.dns as { tsig: { secretFile: string } }).tsig.secretFile = "tsig-wrong";
    });
    const r = await doctor({ configPath: file });
    const dns = of(r, "dns");
    expect(dns.map((f) => f.status)).toEqual(["fail", "fail"]);
    expect(dns[0]!.message).toMatch(/NOTAUTH.*BADSIG/);
    expect(dns[0]!.hint).toContain(join(h.dir, "tsig-wrong"));
    expect(JSON.stringify(r)).not.toContain(Buffer.alloc(32, 7).toString("base64"));
    expect(JSON.stringify(r)).not.toContain(h.key.secret);
  });

  it("a wrong token: 401 fails with the token hint, exit 2, secrets never printed (whole CLI)", async () => {
    writeFileSync(join(h.dir, "token-wrong"), `${OTHER_TOKEN}\n`, { mode: 0o600 });
    const file = h.writeConfigVariant("token-wrong", (doc) => {
      (doc.proxmox as { tokenSecretFile: string }).tokenSecretFile = "token-wrong";
    });
    const r = await doctor({ configPath: file });
    const api = of(r, "proxmox");
    expect(api).toHaveLength(1);
    expect(api[0]).toMatchObject({ status: "fail" });
    expect(api[0]!.message).toContain(h.sim.url);
    expect(api[0]!.message).toContain("401");
    expect(api[0]!.hint).toMatch(/token was refused.*proxmox\.tokenId/);
    expect(of(r, "hookscript")[0]).toMatchObject({
      status: "warn",
      message: expect.stringMatching(/not checked/),
    });
    expect(r.exitCode).toBe(2);

    const bundle = join(h.dir, "dist", "pvemigrate-dns.mjs");
    for (const json of [false, true]) {
      // Asynchronously: the simulated API answers from this very process.
      const cli = await run(
        [
          process.execPath,
          bundle,
          "--config",
          file,
          "doctor",
          "--node",
          "pve1",
          "--root",
          root,
          "--local",
          ...(json ? ["--json"] : []),
        ],
        { timeoutMs: 60_000 },
      );
      expect(cli.code, cli.stderr).toBe(2);
      const out = cli.stdout + cli.stderr;
      expect(out).toMatch(/401/);
      for (const secret of [OTHER_TOKEN, h.sim.tokenSecret, h.key.secret]) expect(out).not.toContain(secret);
      if (json) expect((JSON.parse(cli.stdout).data as DoctorReport).exitCode).toBe(2);
      else expect(cli.stdout).toMatch(/^FAIL proxmox: .*401.* -> the API token was refused/m);
    }
  });

  it("a pending item older than 10 minutes warns with its id and last error", async () => {
    const kind = defineKind<{ name: string }>(
      "doctor-test",
      (p) => `dns:${p.name}`,
      (raw) => raw as { name: string },
    );
    const old = h.runtime("pve1", () => Date.now() - 25 * 60_000);
    const item = await old.state.local.record(kind, { name: "mail.example.org" });
    await old.state.local.markFailed(item, new Error("all 2 DNS master candidate(s) failed"));
    const fresh = await h.runtime("pve1").state.local.record(kind, { name: "www.example.org" });
    try {
      const r = await doctor();
      const journal = of(r, "journal");
      expect(journal).toHaveLength(1);
      expect(journal[0]).toMatchObject({ status: "warn" });
      expect(journal[0]!.message).toMatch(
        /local journal: dns:mail\.example\.org pending for 2[45] min, 1 failed attempt\(s\), last error: all 2 DNS master/,
      );
      expect(journal[0]!.hint).toMatch(/reconcile/);
      expect(r.exitCode).toBe(0);
    } finally {
      await h.runtime("pve1").state.local.remove(item.id);
      await h.runtime("pve1").state.local.remove(fresh.id);
    }
  });

  it("a configured VM without hookscript on this node warns with the qm command", async () => {
    h.sim.addVm({ vmid: 103, node: "pve1", config: { name: "nohook" } });
    const file = h.writeConfigVariant("vm103", (doc) => {
      (doc.vms as Record<string, unknown>)["103"] = { ip: "10.10.1.103", dns: ["nohook.example.org"] };
    });
    const r = await doctor({ configPath: file });
    expect(of(r, "hookscript")).toEqual([
      { check: "hookscript", status: "ok", message: `VM 101 runs hookscript ${HOOK}` },
      {
        check: "hookscript",
        status: "warn",
        message: expect.stringContaining("VM 103 has no hookscript"),
        hint: `qm set 103 --hookscript ${HOOK}`,
      },
    ]);
    expect(r.exitCode).toBe(0);
  });

  it("the nftables.service finding comes from the root dir (flush ruleset + enabled -> warn)", async () => {
    const rootDir = join(root, "flush");
    mkdirSync(join(rootDir, "etc", "systemd", "system", "sysinit.target.wants"), { recursive: true });
    writeFileSync(
      join(rootDir, "etc", "nftables.conf"),
      "#!/usr/sbin/nft -f\n\nflush ruleset\n\ntable inet filter {\n}\n",
    );
    symlinkSync(
      "/lib/systemd/system/nftables.service",
      join(rootDir, "etc", "systemd", "system", "sysinit.target.wants", "nftables.service"),
    );
    const file = h.writeConfigVariant("nat-nft", (doc) => {
      doc.nat = { backend: "nftables", table: "pvemigrate" };
      // nft itself runs in a namespace that does not exist: a clean failure, the host's rules untouched.
      doc.remote = { ...(doc.remote as object), netns: { pve1: `pvemigrate-doctor-absent-${process.pid}` } };
    });
    const r = await doctor({ configPath: file, rootDir });
    expect(of(r, "nftables.service")).toEqual([
      expect.objectContaining({
        status: "warn",
        message: expect.stringMatching(
          /nftables\.service is enabled \(sysinit\.target\.wants\).*flush ruleset.*wipes table ip pvemigrate/,
        ),
      }),
    ]);
  });

  it("a broken config: one fail line per problem, exit 1, nothing else checked", async () => {
    const file = h.writeConfigVariant("broken", (doc) => {
      (doc.dns as { ttl: unknown }).ttl = "soon";
      (doc.proxmox as { tokenSecretFile: string }).tokenSecretFile = "no-such-file";
    });
    const r = await doctor({ configPath: file });
    expect(r.exitCode).toBe(1);
    expect(r.findings.every((f) => f.check === "config" && f.status === "fail")).toBe(true);
    expect(r.findings.map((f) => f.message).join("\n")).toMatch(/dns\.ttl/);
    expect(r.findings.map((f) => f.message).join("\n")).toMatch(/proxmox\.tokenSecretFile/);
    expect(r.node).toBeUndefined();
  });

  it("a node that is not in the config: exit 1 naming it", async () => {
    const r = await doctor({ node: "pve9" });
    expect(r.exitCode).toBe(1);
    expect(of(r, "node")[0]).toMatchObject({ status: "fail", message: expect.stringContaining('"pve9"') });
  });
});
