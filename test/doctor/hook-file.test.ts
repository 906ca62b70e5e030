import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadConfig } from "../../lib/config/load.ts";
import type { Config } from "../../lib/config/types.ts";
import { checkHookFileHere, checkHookFiles } from "../../lib/doctor/check-hook-file.ts";
import { HOOK_FILE } from "../../lib/doctor/hook-file.ts";
import { run } from "../../lib/process/run.ts";
import { installBelow, uninstallBelow } from "../support/install.ts";

// doctor's check of the hookscript FILE, against files packaging/install.sh
// really installed (below a temp root), run the way Proxmox runs them:
// `<file> <vmid> pre-start` with only PATH=/sbin:/bin:/usr/sbin:/usr/bin and
// LC_ALL=C (pve-guest-common GuestHelpers exec_hookscript, pve-common
// CLIHandler/Daemon, PVE::Cmd::run). The other nodes are reached through the
// netns transport, which runs their CLI here as `--node pveN`.

const root = join(import.meta.dirname, "..", "..");
let work: string;
let dist: string;
let configFile: string;
let config: Config;

/** A node binary only reachable through a fresh temp dir (as with nvm, n, /usr/local/bin). */
function privateNode(name: string): string {
  const dir = join(work, name, "bin");
  mkdirSync(dir, { recursive: true });
  const node = join(dir, "node");
  try {
    linkSync(realpathSync(process.execPath), node);
  } catch {
    copyFileSync(realpathSync(process.execPath), node);
    chmodSync(node, 0o755);
  }
  return node;
}

function writeConfig(name: string, remoteCommand: string[]): string {
  const file = join(work, `${name}.yaml`);
  writeFileSync(
    file,
    stringify({
      proxmox: { endpoints: ["http://127.0.0.1:9"], tokenId: "root@pam!t", tokenSecretFile: "token" },
      nodes: {
        pve1: { publicIPv4: "203.0.113.10", privateIP: "10.99.0.1", publicInterface: "pub0" },
        pve2: { publicIPv4: "203.0.113.20", privateIP: "10.99.0.2", publicInterface: "pub0" },
        pve3: { publicIPv4: "203.0.113.30", privateIP: "10.99.0.3", publicInterface: "pub0" },
      },
      dns: { zone: "example.org", masters: ["127.0.0.1:9"], tsig: { name: "k", secretFile: "tsig" } },
      nat: { backend: "none" },
      proxy: { backend: "none" },
      stateDir: join(work, "state", "{node}"),
      pveRoot: join(work, "pve"),
      remote: { transport: "netns", command: remoteCommand },
      vms: { 101: { ip: "10.10.1.101", dns: ["mail.example.org"] } },
    }),
  );
  return file;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), `pvemigrate-hookfile-${process.pid}-`));
  dist = join(work, "dist");
  const r = spawnSync(process.execPath, [join(root, "scripts", "build.mjs"), dist], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  writeFileSync(join(work, "token"), "0badc0de-0000-4000-8000-000000000000\n", { mode: 0o600 });
  writeFileSync(join(work, "tsig"), `${Buffer.alloc(32, 1).toString("base64")}\n`, { mode: 0o600 });
  configFile = writeConfig("cluster", [process.execPath, join(dist, "pvemigrate-dns.mjs")]);
  config = (await loadConfig(configFile)).config;
}, 60_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

let roots = 0;
const freshRoot = () => {
  const d = join(work, `root-${++roots}`);
  mkdirSync(d);
  return d;
};
const summary = (findings: Array<{ status: string; message: string }>) =>
  findings.map((f) => `${f.status} ${f.message}`);

describe("doctor: the hookscript file on every node", () => {
  it("installed with a node outside Proxmox's PATH: starts on this node and, checked by their own CLI, on the others; nothing is written", async () => {
    const d = freshRoot();
    const node = privateNode("nvm-like");
    installBelow(d, dist, { NODE: undefined, PATH: `${join(node, "..")}:${process.env.PATH}` });
    const file = join(d, HOOK_FILE);
    expect(readFileSync(file, "utf8").split("\n", 1)[0]).toBe(`#!${realpathSync(node)}`);
    const findings = await checkHookFiles(config, "pve1", d, ["pve1", "pve2", "pve3"]);
    expect(summary(findings)).toEqual(
      ["pve1", "pve2", "pve3"].map(
        (n) =>
          `ok ${n}: ${file} starts as Proxmox runs it (PATH=/sbin:/bin:/usr/sbin:/usr/bin, #!${realpathSync(node)})`,
      ),
    );
    // pre-start of a VMID the config does not manage: no journal, lock or state dir appears.
    expect(existsSync(join(work, "state"))).toBe(false);
  }, 60_000);

  it("the node that installed it is gone: fails as Proxmox would (the interpreter does not exist), with the fix", async () => {
    const d = freshRoot();
    const node = privateNode("removed-later");
    installBelow(d, dist, { NODE: node });
    unlinkSync(node);
    const f = await checkHookFileHere(config, "pve1", d);
    expect(f.status).toBe("fail");
    expect(f.message).toContain(
      `pve1: ${join(d, HOOK_FILE)} does not start (ENOENT; first line "#!${node}")`,
    );
    expect(f.hint).toMatch(/run packaging\/install\.sh on pve1 again/);
  });

  it("a #!/usr/bin/env line whose program is not in Proxmox's PATH: exit 127 fails", async () => {
    const d = freshRoot();
    installBelow(d, dist);
    const file = join(d, HOOK_FILE);
    const text = readFileSync(file, "utf8");
    writeFileSync(file, `#!/usr/bin/env pvemigrate-no-such-node\n${text.slice(text.indexOf("\n") + 1)}`);
    const f = await checkHookFileHere(config, "pve1", d);
    expect(f.status).toBe("fail");
    expect(f.message).toMatch(
      /does not start under PATH=\/sbin:\/bin:\/usr\/sbin:\/usr\/bin \(exit 127: .*pvemigrate-no-such-node/,
    );
  });

  it("missing on every node, or not executable: fails naming each node, with the install or chmod fix", async () => {
    const d = freshRoot();
    const missing = await checkHookFiles(config, "pve1", d, ["pve1", "pve2", "pve3"]);
    expect(missing.map((f) => [f.status, f.message.split(":")[0], f.hint])).toEqual([
      ["fail", "pve1", "run packaging/install.sh on pve1"],
      ["fail", "pve2", "run packaging/install.sh on pve2"],
      ["fail", "pve3", "run packaging/install.sh on pve3"],
    ]);
    for (const f of missing) expect(f.message).toMatch(/does not exist: Proxmox refuses to start/);

    installBelow(d, dist);
    chmodSync(join(d, HOOK_FILE), 0o644);
    const f = await checkHookFileHere(config, "pve1", d);
    expect([f.status, f.message]).toEqual(["fail", expect.stringContaining("is not executable (mode 644)")]);
    expect(f.hint).toBe(`chmod 755 ${join(d, HOOK_FILE)}, or run packaging/install.sh on pve1`);
  });

  it("the no-op left by --uninstall: a warning, not a failure (it starts, doing nothing)", async () => {
    const d = freshRoot();
    installBelow(d, dist);
    uninstallBelow(d);
    const f = await checkHookFileHere(config, "pve1", d);
    expect(f.status).toBe("warn");
    expect(f.message).toContain("is the no-op left by install.sh --uninstall");
  });

  it("another node whose CLI cannot be run: a warning naming that node, this node still checked", async () => {
    const d = freshRoot();
    installBelow(d, dist);
    const broken = (await loadConfig(writeConfig("no-cli", [join(work, "no-such-cli")]))).config;
    const findings = await checkHookFiles(broken, "pve1", d, ["pve1", "pve2", "pve3"]);
    expect(findings.map((f) => f.status)).toEqual(["ok", "warn", "warn"]);
    expect(findings[1]!.message).toMatch(/^pve2: cannot check its hookscript file from here: .*no-such-cli/);
    expect(findings[1]!.hint).toBe("run pvemigrate-dns doctor on pve2");
  });

  it("doctor --hookscript-file (what the other nodes run): one finding, exit 2 when the file would abort starts", async () => {
    const d = freshRoot();
    const cli = (args: string[]) =>
      run(
        [
          process.execPath,
          join(dist, "pvemigrate-dns.mjs"),
          "--config",
          configFile,
          "doctor",
          "--hookscript-file",
        ].concat(["--root", d, "--node", "pve2", ...args]),
        { timeoutMs: 60_000 },
      );
    const bad = await cli(["--json"]);
    expect(bad.code, bad.stderr).toBe(2);
    const report = JSON.parse(bad.stdout).data as {
      findings: Array<{ check: string; status: string; message: string }>;
    };
    expect(report.findings.filter((f) => f.check === "hookscript-file").map((f) => f.status)).toEqual([
      "fail",
    ]);
    installBelow(d, dist);
    const good = await cli([]);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/^ok {3}hookscript-file: pve2: .* starts as Proxmox runs it/m);
  }, 60_000);
});
