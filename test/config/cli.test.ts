import { spawnSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { baseDoc, type Fixture, makeFixture, TOKEN_SECRET, TSIG_SECRET } from "./fixture.ts";

// The CLI as a whole process, the way an admin runs it.

const root = join(import.meta.dirname, "..", "..");
function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", join(root, "bin", "pvemigrate-dns.ts"), ...args],
    {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, PVEMIGRATE_DNS_CONFIG: "", ...env },
    },
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, all: r.stdout + r.stderr };
}

let fx: Fixture;
beforeAll(() => {
  fx = makeFixture();
});
afterAll(() => fx.cleanup());

describe("pvemigrate-dns CLI", () => {
  it("--version prints the package version", () => {
    const r = cli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("--help lists the config command", () => {
    const r = cli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("config");
  });

  it("an unknown command is invalid input (exit 1)", () => {
    expect(cli(["frobnicate"]).code).toBe(1);
  });

  it("config check accepts the shipped example", () => {
    const r = cli(["config", "check", "--config", "examples/cluster.yaml"]);
    expect(r.stderr).toContain("config ok: 3 nodes, 5 VMs");
    expect(r.code).toBe(0);
  });

  it("config check prints the normalized config with secrets redacted, in YAML and JSON", () => {
    const file = fx.write(baseDoc());
    for (const args of [
      ["config", "check", "--config", file],
      ["config", "check", "--config", file, "--json"],
    ]) {
      const r = cli(args);
      expect(r.code).toBe(0);
      expect(r.all).not.toContain(TOKEN_SECRET);
      expect(r.all).not.toContain(TSIG_SECRET);
      expect(r.stdout).toContain("<redacted>");
    }
    const json = JSON.parse(cli(["config", "check", "--config", file, "--json"]).stdout);
    expect(json.ok).toBe(true);
    expect(json.data.config.vms["101"].forward).toEqual(["tcp/25", "tcp/2222:22"]);
    expect(json.data.config.dns.tsig.secret).toBe("<redacted>");
  });

  it("reads the config named by PVEMIGRATE_DNS_CONFIG", () => {
    const file = fx.write(baseDoc(), "env.yaml");
    const r = cli(["config", "check", "--json"], { PVEMIGRATE_DNS_CONFIG: file });
    expect(JSON.parse(r.stdout).data.config.source).toBe(file);
  });

  it("config check lists every problem, one line each, and exits 1", () => {
    const doc = baseDoc();
    doc.vms[101].forward[1] = "tcp/70000";
    doc.vms[102].dns.push("mail.example.org");
    const r = cli(["config", "check", "--config", fx.write(doc, "bad.yaml")]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual([
      "vms.101.forward[1]: port 70000 is out of range 1-65535",
      "vms.102.dns[1]: mail.example.org is also claimed by VM 101 (vms.101.dns[0])",
    ]);
    const json = JSON.parse(cli(["config", "check", "--json", "--config", fx.write(doc, "bad.yaml")]).stdout);
    expect(json.ok).toBe(false);
    expect(json.data.problems).toHaveLength(2);
    expect(json.errors).toEqual(r.stderr.trim().split("\n"));
  });

  it("an error about a secret names the file, never its content", () => {
    writeFileSync(join(fx.dir, "loose"), `${TSIG_SECRET}\n`);
    chmodSync(join(fx.dir, "loose"), 0o644);
    const doc = baseDoc();
    doc.dns.tsig.secretFile = "loose";
    const r = cli(["config", "check", "--config", fx.write(doc, "loose.yaml")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(join(fx.dir, "loose"));
    expect(r.all).not.toContain(TSIG_SECRET);
  });
});
