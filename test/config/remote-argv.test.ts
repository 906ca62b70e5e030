import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config/load.ts";
import type { Config } from "../../lib/config/types.ts";
import { PeerError } from "../../lib/errors.ts";
import { nodeKnownHostsPath, remoteArgv, runOnNode } from "../../lib/remote/apply.ts";
import { remoteApplied } from "../../lib/remote/reports.ts";
import { baseDoc, type Fixture, makeFixture } from "./fixture.ts";

// remoteArgv under ssh: every remote word reaches the remote shell unquoted,
// so each one (the admin's command included) must be plain.

let fx: Fixture;
let config: Config;
beforeAll(async () => {
  fx = makeFixture();
  const doc = baseDoc();
  doc.remote = { command: ["/usr/local/bin/pvemigrate-dns"] };
  doc.pveRoot = join(fx.dir, "pve");
  ({ config } = await loadConfig(fx.write(doc)));
});
afterAll(() => fx.cleanup());

describe("remoteArgv over ssh", () => {
  it("runs the configured command with the absolute config path on the node's sshHost", () => {
    const argv = remoteArgv(config, "pve2", ["apply", "--local"]);
    expect(argv.slice(0, 1)).toEqual(["ssh"]);
    expect(argv.slice(argv.indexOf("root@10.10.0.2"))).toEqual([
      "root@10.10.0.2",
      "--",
      "/usr/local/bin/pvemigrate-dns",
      "--config",
      config.source,
      "apply",
      "--local",
    ]);
  });

  it("refuses a remote.command word the shell would interpret, even when the config check was bypassed", () => {
    const bad = { ...config, remote: { ...config.remote, command: ["pvemigrate-dns", "$(reboot)"] } };
    expect(() => remoteArgv(bad, "pve2", ["apply"])).toThrow(PeerError);
    expect(() => remoteArgv(bad, "pve2", ["apply"])).toThrow('"$(reboot)" cannot be passed over ssh');
  });
});

// Since PVE 8.2 host keys live in <pveRoot>/nodes/<node>/ssh_known_hosts, and
// Proxmox's own ssh (pve-cluster src/PVE/SSHInfo.pm ssh_info_to_ssh_opts) adds
// -o UserKnownHostsFile=<that file> -o GlobalKnownHostsFile=none when it exists.
describe("ssh to another node uses that node's known_hosts in pmxcfs, like PVE::SSHInfo", () => {
  it("puts the two options after HostKeyAlias, in ssh_info_to_ssh_opts' order", () => {
    const file = "/etc/pve/nodes/pve2/ssh_known_hosts";
    const argv = remoteArgv(config, "pve2", ["apply"], { knownHostsFile: file });
    const at = argv.indexOf("HostKeyAlias=pve2");
    expect(argv.slice(at, at + 6)).toEqual([
      "HostKeyAlias=pve2",
      "-o",
      `UserKnownHostsFile=${file}`,
      "-o",
      "GlobalKnownHostsFile=none",
      "root@10.10.0.2",
    ]);
  });

  // A fake `ssh` first on PATH records the argv runOnNode really executes.
  const savedPath = process.env.PATH;
  afterEach(() => {
    process.env.PATH = savedPath;
    rmSync(join(fx.dir, "pve"), { recursive: true, force: true });
  });
  async function sshArgvOfRun(): Promise<string[]> {
    const bin = join(fx.dir, "bin");
    const record = join(fx.dir, "ssh-argv");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "ssh"), `#!/bin/sh\nprintf '%s\\n' "$@" > '${record}'\necho '{"changes":[]}'\n`);
    chmodSync(join(bin, "ssh"), 0o755);
    process.env.PATH = `${bin}:${savedPath}`;
    await expect(
      runOnNode(config, "pve2", ["apply", "--local"], { schema: remoteApplied, what: "list of changes" }),
    ).resolves.toEqual({ changes: [] });
    return readFileSync(record, "utf8").trimEnd().split("\n");
  }

  it("passes <pveRoot>/nodes/<node>/ssh_known_hosts of the TARGET node when the file exists", async () => {
    const file = nodeKnownHostsPath(config, "pve2");
    mkdirSync(join(fx.dir, "pve", "nodes", "pve2"), { recursive: true });
    writeFileSync(file, "pve2 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0test\n");
    const argv = await sshArgvOfRun();
    expect(argv).toContain(`UserKnownHostsFile=${file}`);
    expect(argv).toContain("GlobalKnownHostsFile=none");
    expect(argv.indexOf("GlobalKnownHostsFile=none")).toBeLessThan(argv.indexOf("root@10.10.0.2"));
  });

  it("leaves ssh's own known_hosts alone when the node has no such file (PVE before 8.2)", async () => {
    mkdirSync(join(fx.dir, "pve", "nodes", "pve1"), { recursive: true });
    writeFileSync(nodeKnownHostsPath(config, "pve1"), "pve1 ssh-ed25519 AAAA\n"); // another node's
    const argv = await sshArgvOfRun();
    expect(argv.some((a) => a.includes("KnownHostsFile"))).toBe(false);
    expect(argv).toContain("HostKeyAlias=pve2");
  });
});
