import { describe, expect, it } from "vitest";
import {
  type HookFileProbe,
  judgeHookFile,
  PROXMOX_HOOK_ENV,
  probeEnv,
  unmanagedVmid,
} from "../../lib/doctor/hook-file.ts";

// What doctor concludes about a node's hookscript file. Proxmox facts behind
// it: pve-guest-common PVE::GuestHelpers check_hookscript (missing / not
// executable dies) and exec_hookscript (run_command dies on a non-zero exit;
// fatal in pre-start), pve-common PVE::CLIHandler/PVE::Daemon (the PATH) and
// PVE::Cmd::run (LC_ALL=C).

const FILE = "/var/lib/vz/snippets/pvemigrate-dns.mjs";
const ran = (over: Partial<Extract<HookFileProbe, { kind: "ran" }>>): HookFileProbe => ({
  kind: "ran",
  firstLine: "#!/usr/bin/node",
  code: 0,
  signal: null,
  stderr: "",
  vmid: 999999999,
  noop: false,
  ...over,
});

describe("judgeHookFile", () => {
  const cases: Array<[string, HookFileProbe, "ok" | "warn" | "fail", RegExp]> = [
    ["missing", { kind: "missing" }, "fail", /pve2: \S+ does not exist: Proxmox refuses to start/],
    ["a directory", { kind: "not-a-file" }, "fail", /is not a regular file/],
    ["mode 644", { kind: "not-executable", mode: 0o644 }, "fail", /is not executable \(mode 644\)/],
    [
      "interpreter gone (ENOENT from exec)",
      { kind: "spawn-error", error: "ENOENT", firstLine: "#!/root/.nvm/versions/node/v20.19.0/bin/node" },
      "fail",
      /does not start \(ENOENT; first line "#!\/root\/\.nvm\/.*"\)/,
    ],
    [
      "env finds no node (127)",
      ran({
        code: 127,
        firstLine: "#!/usr/bin/env node",
        stderr: "/usr/bin/env: 'node': No such file or directory\n",
      }),
      "fail",
      /does not start under PATH=\/sbin:\/bin:\/usr\/sbin:\/usr\/bin \(exit 127: \/usr\/bin\/env: 'node': No such file/,
    ],
    [
      "a node too old to parse the bundle (exit 1)",
      ran({ code: 1, stderr: "SyntaxError: Unexpected token\n" }),
      "fail",
      /exits 1 in pre-start of unmanaged VM 999999999 \(SyntaxError: Unexpected token\): Proxmox would abort starts/,
    ],
    ["hangs", ran({ code: null, signal: "SIGKILL" }), "fail", /did not exit within 20 s \(SIGKILL\)/],
    [
      "the uninstall no-op",
      ran({ firstLine: "#!/bin/sh", noop: true }),
      "warn",
      /is the no-op left by install\.sh --uninstall/,
    ],
    [
      "starts but cannot read its config",
      ran({
        stderr:
          'pvemigrate-dns: hook pre-start VM 999999999: node "x" is not in the config\'s nodes; doing nothing\n',
      }),
      "warn",
      /starts, but says: pvemigrate-dns: hook pre-start .* doing nothing$/,
    ],
    [
      "starts silently",
      ran({}),
      "ok",
      /^pve2: \S+ starts as Proxmox runs it \(PATH=\/sbin:\/bin:\/usr\/sbin:\/usr\/bin, #!\/usr\/bin\/node\)$/,
    ],
  ];
  it.each(cases)("%s", (_name, probe, status, message) => {
    const f = judgeHookFile("pve2", FILE, probe);
    expect(f.check).toBe("hookscript-file");
    expect(f.status).toBe(status);
    expect(f.message).toMatch(message);
    if (status !== "ok") expect(f.hint).toMatch(/install\.sh|chmod|by hand|fix what it says/);
  });

  it("a long stderr is cut to one bounded line", () => {
    const f = judgeHookFile("pve1", FILE, ran({ code: 2, stderr: `${"x".repeat(1000)}\nsecond line\n` }));
    expect(f.message).not.toContain("\n");
    expect(f.message.length).toBeLessThan(500);
  });
});

describe("unmanagedVmid", () => {
  it("is the highest VMID the config does not list", () => {
    expect(unmanagedVmid({ 101: {} })).toBe(999999999);
    expect(unmanagedVmid({ 999999999: {}, 999999998: {} })).toBe(999999997);
  });
});

describe("probeEnv", () => {
  const plain = { configPath: "/etc/pve/pvemigrate-dns.yaml", node: "pve1" };
  it("is exactly Proxmox's environment when doctor acts as the hook would", () => {
    expect(probeEnv(plain, plain)).toEqual({ PATH: "/sbin:/bin:/usr/sbin:/usr/bin", LC_ALL: "C" });
    expect(probeEnv(plain, plain)).toEqual(PROXMOX_HOOK_ENV);
  });
  it("adds only what doctor was told to act as: --config, --node, the tests' cache dir", () => {
    expect(probeEnv({ configPath: "/tmp/c.yaml", node: "pve2", cacheDir: "/tmp/cache" }, plain)).toEqual({
      PATH: "/sbin:/bin:/usr/sbin:/usr/bin",
      LC_ALL: "C",
      PVEMIGRATE_DNS_CONFIG: "/tmp/c.yaml",
      PVEMIGRATE_DNS_NODE: "pve2",
      PVEMIGRATE_DNS_CACHE_DIR: "/tmp/cache",
    });
  });
});
