import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { missingNode18, NODE18 } from "./support/node18.ts";

// packaging/install.sh as an admin runs it on a node, but below DESTDIR (a
// temp dir): it never touches this machine's /usr/local, /var/lib/vz or
// systemd. The unit files are checked by systemd-analyze when it exists.
// Proxmox runs a hookscript with PATH=/sbin:/bin:/usr/sbin:/usr/bin and no
// other environment of ours (pve-common PVE::CLIHandler / PVE::Daemon set that
// PATH; pve-guest-common PVE::GuestHelpers::exec_hookscript runs the file), so
// the installed files are run that way here.

const root = join(import.meta.dirname, "..");
const installer = join(root, "packaging", "install.sh");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };

const BIN = "usr/local/bin/pvemigrate-dns";
// The launcher (CommonJS: scripts/build.mjs), and the name the hookscript looks for the CLI by, a link to it.
const CLI = "usr/local/lib/pvemigrate-dns/pvemigrate-dns.cjs";
const CLI_NAME = "usr/local/lib/pvemigrate-dns/pvemigrate-dns.mjs";
// The launcher above imports it for every command but a cached `dns set`.
const CLI_FULL = "usr/local/lib/pvemigrate-dns/pvemigrate-dns-full.mjs";
// The name guests use: a link to HOOK_FILE, the CommonJS bundle (Node picks the format by the real path).
const HOOK = "var/lib/vz/snippets/pvemigrate-dns.mjs";
const HOOK_FILE = "var/lib/vz/snippets/pvemigrate-dns.cjs";
const SERVICE = "etc/systemd/system/pvemigrate-dns-reconcile.service";
const TIMER = "etc/systemd/system/pvemigrate-dns-reconcile.timer";
const WANTS = "etc/systemd/system/timers.target.wants/pvemigrate-dns-reconcile.timer";
const HOOK_SOCKET = "etc/systemd/system/pvemigrate-dns-hook.socket";
const HOOK_SERVICE = "etc/systemd/system/pvemigrate-dns-hook.service";
const SOCKET_WANTS = "etc/systemd/system/sockets.target.wants/pvemigrate-dns-hook.socket";
const CRON = "etc/cron.d/pvemigrate-dns";
const LOGROTATE = "etc/logrotate.d/pvemigrate-dns";
const PVE_PATH = "PATH=/sbin:/bin:/usr/sbin:/usr/bin";
/** Every file an install writes, sorted; with the timer and socket enabled, their links too. */
const INSTALLED = [
  BIN,
  CLI,
  CLI_NAME,
  CLI_FULL,
  SERVICE,
  TIMER,
  HOOK,
  HOOK_FILE,
  LOGROTATE,
  HOOK_SOCKET,
  HOOK_SERVICE,
].sort();
const INSTALLED_ENABLED = [...INSTALLED, WANTS, SOCKET_WANTS].sort();

let work: string;
let dist: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), `pvemigrate-packaging-${process.pid}-`));
  dist = join(work, "dist");
  const r = spawnSync(process.execPath, [join(root, "scripts", "build.mjs"), dist], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
}, 60_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

let counter = 0;
function freshDestdir(): string {
  const d = join(work, `dest-${++counter}`);
  mkdirSync(d);
  return d;
}

function install(destdir: string, args: string[] = [], env: Record<string, string | undefined> = {}) {
  const r = spawnSync(installer, args, {
    encoding: "utf8",
    env: { ...process.env, NODE: process.execPath, DESTDIR: destdir, DIST: dist, ...env },
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const mode = (file: string) => statSync(file).mode & 0o7777;
// Buffer.equals: vitest's toEqual walks a 2 MB bundle byte by byte, for seconds.
const firstLine = (file: string) => readFileSync(file, "utf8").split("\n", 1)[0];
/** The bundle with its `#!/usr/bin/env node` line replaced by `#!<interpreter>`: what install.sh writes. */
const sameBundle = (installed: string, bundle: string, interpreter: string) => {
  const [a, b] = [readFileSync(installed), readFileSync(bundle)];
  const [i, j] = [a.indexOf(10), b.indexOf(10)];
  return a.subarray(0, i).toString() === `#!${interpreter}` && a.subarray(i).equals(b.subarray(j));
};
/** The installed hookscript is the built one, started by the node that runs these tests. */
const hookIsBuilt = (destdir: string) =>
  sameBundle(join(destdir, HOOK), join(dist, "hookscript.cjs"), realpathSync(process.execPath));
/** Runs `file args` with nothing but `vars` in its environment (`env -i`), stdin empty. */
const bare = (vars: string[], file: string, args: string[]) =>
  spawnSync("/usr/bin/env", ["-i", ...vars, file, ...args], { encoding: "utf8", input: "", timeout: 30_000 });
// The enable symlink points at the real /etc path, absent here: look at the link itself.
const linked = (file: string) => lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink() ?? false;

/** All paths below `dir`, relative, sorted: what an install left behind. */
function tree(dir: string, prefix = ""): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      const rel = prefix ? `${prefix}/${e.name}` : e.name;
      return e.isDirectory() ? tree(join(dir, e.name), rel) : [rel];
    })
    .sort();
}

/** `Key=value` lines of one [section] of a unit file. */
function unitSection(text: string, section: string): Record<string, string> {
  const out: Record<string, string> = {};
  let current = "";
  for (const line of text.split("\n")) {
    const header = /^\[(.+)\]$/.exec(line.trim());
    if (header) current = header[1]!;
    else if (current === section && /^[A-Za-z]+=/.test(line)) {
      const i = line.indexOf("=");
      out[line.slice(0, i)] = line.slice(i + 1);
    }
  }
  return out;
}

describe("packaging/install.sh with DESTDIR", () => {
  it("installs the CLI, the hookscript and the timer units with their modes, and enables the timer", () => {
    const d = freshDestdir();
    const r = install(d);
    expect(r.code, r.stderr).toBe(0);
    expect(tree(d)).toEqual(INSTALLED_ENABLED);
    // A relative link: right below DESTDIR and on the node alike.
    expect(readlinkSync(join(d, BIN))).toBe("../lib/pvemigrate-dns/pvemigrate-dns.cjs");
    expect(readlinkSync(join(d, CLI_NAME))).toBe("pvemigrate-dns.cjs");
    expect(mode(join(d, BIN))).toBe(0o755);
    expect(mode(join(d, HOOK))).toBe(0o755);
    // Relative, in the snippets directory itself: what Proxmox runs (check_hookscript's -f and -x follow it).
    expect(readlinkSync(join(d, HOOK))).toBe("pvemigrate-dns.cjs");
    expect(readFileSync(join(d, CLI_FULL)).equals(readFileSync(join(dist, "pvemigrate-dns-full.mjs")))).toBe(
      true,
    );
    expect(mode(join(d, CLI_FULL))).toBe(0o644);
    expect(mode(join(d, SERVICE))).toBe(0o644);
    expect(mode(join(d, TIMER))).toBe(0o644);
    expect(mode(join(d, LOGROTATE))).toBe(0o644);
    const node = realpathSync(process.execPath);
    expect(sameBundle(join(d, BIN), join(dist, "pvemigrate-dns.cjs"), node)).toBe(true);
    expect(hookIsBuilt(d)).toBe(true);
    // Enabled the way systemctl enable does it: a symlink to the unit's real (non-DESTDIR) path.
    expect(linked(join(d, WANTS))).toBe(true);
    expect(readlinkSync(join(d, WANTS))).toBe("/etc/systemd/system/pvemigrate-dns-reconcile.timer");
    // The hook service's socket, enabled the same way (WantedBy=sockets.target).
    expect(mode(join(d, HOOK_SOCKET))).toBe(0o644);
    expect(readlinkSync(join(d, SOCKET_WANTS))).toBe("/etc/systemd/system/pvemigrate-dns-hook.socket");
    expect(r.stdout).toContain("qm set <vmid> --hookscript local:snippets/pvemigrate-dns.mjs");
  });

  it("the installed files run on their own, without node_modules", () => {
    const d = freshDestdir();
    expect(install(d).code).toBe(0);
    const version = spawnSync(join(d, BIN), ["--version"], { cwd: d, encoding: "utf8" });
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(pkg.version);
    // As Proxmox calls it; bad arguments are rejected before any config is read.
    const hook = spawnSync(join(d, HOOK), ["x", "pre-start"], { cwd: d, encoding: "utf8" });
    expect(hook.status).toBe(1);
    expect(hook.stdout).toBe("");
    expect(hook.stderr).toContain('vmid "x" is not a VM id');
  });

  it("running it again replaces the files in place and leaves no temp files", () => {
    const d = freshDestdir();
    expect(install(d).code).toBe(0);
    writeFileSync(join(d, HOOK), "stale");
    const again = install(d);
    expect(again.code, again.stderr).toBe(0);
    expect(tree(d)).toEqual(INSTALLED_ENABLED);
    expect(hookIsBuilt(d)).toBe(true);
    expect(mode(join(d, HOOK))).toBe(0o755);
  });

  it("--no-enable installs the units without enabling the timer", () => {
    const d = freshDestdir();
    const r = install(d, ["--no-enable"]);
    expect(r.code, r.stderr).toBe(0);
    expect(tree(d)).toEqual(INSTALLED);
  });

  it("--cron installs the cron.d entry instead of the timer, and undoes an earlier timer enable", () => {
    const d = freshDestdir();
    expect(install(d).code).toBe(0);
    const r = install(d, ["--cron"]);
    expect(r.code, r.stderr).toBe(0);
    expect(linked(join(d, WANTS))).toBe(false);
    expect(mode(join(d, CRON))).toBe(0o644);
    const cron = readFileSync(join(d, CRON), "utf8");
    expect(cron.endsWith("\n")).toBe(true); // cron ignores a last line without newline
    const jobs = cron.split("\n").filter((l) => /^(\*|@)/.test(l));
    expect(jobs).toHaveLength(2);
    for (const job of jobs) expect(job).toMatch(/ root .*\/usr\/local\/bin\/pvemigrate-dns reconcile/);
    // Back to the timer: the cron entry goes, so runs are never doubled.
    expect(install(d).code).toBe(0);
    expect(existsSync(join(d, CRON))).toBe(false);
    expect(linked(join(d, WANTS))).toBe(true);
  });

  it("warns when storage local lacks the snippets content type, naming the pvesm fix", () => {
    const d = freshDestdir();
    mkdirSync(join(d, "etc", "pve"), { recursive: true });
    const cfg = (content: string) =>
      `dir: local\n\tpath /var/lib/vz\n\tcontent ${content}\n\tshared 0\n\nlvmthin: local-lvm\n\tthinpool data\n\tvgname pve\n\tcontent rootdir,images\n`;
    writeFileSync(join(d, "etc", "pve", "storage.cfg"), cfg("iso,vztmpl,backup"));
    const without = install(d);
    expect(without.code, without.stderr).toBe(0);
    expect(without.stdout).toContain('storage "local" does not have the snippets content type');
    expect(without.stdout).toContain("pvesm set local --content iso,vztmpl,backup,snippets");

    writeFileSync(join(d, "etc", "pve", "storage.cfg"), cfg("iso,snippets,backup"));
    const withSnippets = install(d);
    expect(withSnippets.code, withSnippets.stderr).toBe(0);
    expect(withSnippets.stdout).not.toContain("snippets content type");
  });

  it("refuses to run without built bundles or with an unknown argument, installing nothing", () => {
    const d = freshDestdir();
    const noDist = install(d, [], { DIST: join(work, "no-such-dist") });
    expect(noDist.code).toBe(1);
    expect(noDist.stderr).toContain("pvemigrate-dns.cjs is missing: build the bundles first");
    const bad = install(d, ["--frobnicate"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('unknown argument "--frobnicate"');
    expect(readdirSync(d)).toEqual([]);
  });

  it("--uninstall removes everything but the hookscript, which becomes an executable no-op", () => {
    const d = freshDestdir();
    expect(install(d).code).toBe(0);
    expect(install(d, ["--cron"]).code).toBe(0);
    expect(install(d).code).toBe(0);
    const r = install(d, ["--uninstall"]);
    expect(r.code, r.stderr).toBe(0);
    // GuestHelpers check_hookscript: a guest whose hookscript file is missing or not executable
    // cannot start (pre-start dies), so the file stays, doing nothing, and no temp file is left.
    // Both names: the link guests name became a file of its own, not a link to a file that may go.
    expect(tree(d)).toEqual([HOOK, HOOK_FILE].sort());
    for (const file of [HOOK, HOOK_FILE]) {
      expect(linked(join(d, file))).toBe(false);
      expect(mode(join(d, file))).toBe(0o755);
      expect(firstLine(join(d, file))).toBe("#!/bin/sh");
      const noop = bare([PVE_PATH, "LC_ALL=C"], join(d, file), ["101", "pre-start"]);
      expect([noop.status, noop.stdout, noop.stderr]).toEqual([0, "", ""]);
    }
    expect(r.stdout).toContain(`replaced /${HOOK} by a no-op`);
    expect(r.stdout).toContain("qm set <vmid> --delete hookscript");
    expect(r.stdout).toContain(`rm /${HOOK}`);
    // Twice is fine, and an install afterwards replaces the no-op with the real hookscript.
    expect(install(d, ["--uninstall"]).code).toBe(0);
    expect(tree(d)).toEqual([HOOK, HOOK_FILE].sort());
    expect(install(d).code).toBe(0);
    expect(hookIsBuilt(d)).toBe(true);
  });

  it("--uninstall names the guests of every node that still use the hookscript, with their detach command", () => {
    const d = freshDestdir();
    expect(install(d).code).toBe(0);
    const guest = (node: string, kind: string, vmid: number, hook: string) => {
      mkdirSync(join(d, "etc", "pve", "nodes", node, kind), { recursive: true });
      writeFileSync(
        join(d, "etc", "pve", "nodes", node, kind, `${vmid}.conf`),
        `memory: 2048\n${hook ? `hookscript: ${hook}\n` : ""}`,
      );
    };
    guest("pve1", "qemu-server", 101, "local:snippets/pvemigrate-dns.mjs");
    guest("pve1", "qemu-server", 102, "local:snippets/other-hook.sh");
    guest("pve1", "qemu-server", 103, "");
    guest("pve2", "lxc", 200, "local:snippets/pvemigrate-dns.mjs");
    guest("pve3", "qemu-server", 1000, "nfs-snippets:snippets/pvemigrate-dns.mjs");
    const r = install(d, ["--uninstall"]);
    expect(r.code, r.stderr).toBe(0);
    const detach = r.stdout.split("\n").filter((l) => /--delete hookscript/.test(l));
    expect(detach.map((l) => l.trim())).toEqual([
      "qm set 101 --delete hookscript",
      "pct set 200 --delete hookscript",
      "qm set 1000 --delete hookscript",
    ]);
    expect(firstLine(join(d, HOOK))).toBe("#!/bin/sh");
  });
});

describe("install.sh and the Node.js the bundles run with", () => {
  let nodeDir: string;
  let emptyDir: string;
  beforeAll(() => {
    // A node binary reachable only through a temp dir, as with nvm, n or /usr/local/bin:
    // none of Proxmox's PATH directories lead to it. A hard link (a copy across filesystems).
    nodeDir = join(work, "opt-node", "bin");
    emptyDir = join(work, "no-node-here");
    mkdirSync(nodeDir, { recursive: true });
    mkdirSync(emptyDir);
    try {
      linkSync(realpathSync(process.execPath), join(nodeDir, "node"));
    } catch {
      copyFileSync(realpathSync(process.execPath), join(nodeDir, "node"));
      chmodSync(join(nodeDir, "node"), 0o755);
    }
  }, 60_000);

  it("the installed hookscript and CLI start under Proxmox's PATH with the node that installed them, wherever it is", () => {
    const d = freshDestdir();
    // `node` found through PATH, as an admin's shell finds it.
    const r = install(d, [], { NODE: undefined, PATH: `${nodeDir}:${process.env.PATH}` });
    expect(r.code, r.stderr).toBe(0);
    const node = realpathSync(join(nodeDir, "node"));
    expect(firstLine(join(d, HOOK))).toBe(`#!${node}`);
    expect(firstLine(join(d, BIN))).toBe(`#!${node}`);
    expect(r.stdout).toContain(`runs ${node}`);

    // A config that does not exist: the hook says so and does nothing. It ran: the message is its own.
    const noConfig = `PVEMIGRATE_DNS_CONFIG=${join(work, "absent.yaml")}`;
    // Exactly Proxmox's environment, then one with no node in PATH at all.
    for (const path of [PVE_PATH, `PATH=${emptyDir}`]) {
      const hook = bare([path, "LC_ALL=C", noConfig], join(d, HOOK), ["101", "pre-start"]);
      expect(hook.status, `${path}: ${hook.stderr}`).toBe(0);
      expect(hook.stderr).toContain("absent.yaml does not exist; doing nothing");
      const cli = bare([path, "LC_ALL=C"], join(d, BIN), ["--version"]);
      expect(cli.status, `${path}: ${cli.stderr}`).toBe(0);
      expect(cli.stdout.trim()).toBe(pkg.version);
    }
    // The control: the bundle as built (#!/usr/bin/env node) does not start without node in PATH,
    // exit 127 like env's "not found": what a pre-start would have done, aborting the start.
    const asBuilt = bare([`PATH=${emptyDir}`, "LC_ALL=C", noConfig], join(dist, "hookscript.cjs"), [
      "101",
      "pre-start",
    ]);
    expect(firstLine(join(dist, "hookscript.cjs"))).toBe("#!/usr/bin/env node");
    expect(asBuilt.status).toBe(127);
  });

  it.skipIf(missingNode18())(
    "accepts Proxmox VE 8's Node.js 18.19: the installed hookscript and CLI run under it",
    () => {
      const d = freshDestdir();
      const r = install(d, [], { NODE: NODE18 });
      expect(r.code, r.stderr).toBe(0);
      expect(firstLine(join(d, HOOK))).toBe(`#!${realpathSync(NODE18)}`);
      const noConfig = `PVEMIGRATE_DNS_CONFIG=${join(work, "absent.yaml")}`;
      const hook = bare([PVE_PATH, "LC_ALL=C", noConfig], join(d, HOOK), ["101", "pre-start"]);
      expect(hook.status, hook.stderr).toBe(0);
      expect(hook.stderr).toContain("absent.yaml does not exist; doing nothing");
      const cli = bare([PVE_PATH, "LC_ALL=C"], join(d, BIN), ["--version"]);
      expect(cli.status, cli.stderr).toBe(0);
      expect(cli.stdout.trim()).toBe(pkg.version);
    },
  );

  it("refuses a node it cannot use, with one line naming it, and installs nothing", () => {
    const fake = (name: string, body: string) => {
      const file = join(work, name);
      mkdirSync(join(file, ".."), { recursive: true });
      writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
      return file;
    };
    const spaced = join(work, "with space", "node");
    mkdirSync(join(spaced, ".."));
    linkSync(join(nodeDir, "node"), spaced);
    const cases: Array<[string, string]> = [
      [join(work, "no-such-node"), "is not an executable file"],
      [fake("old/node", "echo v16.20.2"), "is Node.js v16.20.2; pvemigrate-dns needs >= 18.19"],
      [fake("old18/node", "echo v18.18.2"), "is Node.js v18.18.2; pvemigrate-dns needs >= 18.19"],
      [fake("not-node/node", "echo 'Python 3.13'"), 'does not run as Node.js (--version said "Python 3.13")'],
      [spaced, "a #! line cannot name a path with blanks"],
      // Claims a good version, but cannot run the bundles: caught by starting them before the rename.
      [
        fake("broken/node", '[ "$1" = --version ] && echo v22.1.0 && exit 0; echo "boom" >&2; exit 3'),
        "would not start under PATH=/sbin:/bin:/usr/sbin:/usr/bin",
      ],
    ];
    for (const [node, says] of cases) {
      const d = freshDestdir();
      const r = install(d, [], { NODE: node });
      expect(r.code, `${node}: ${r.stdout}${r.stderr}`).toBe(1);
      expect(r.stderr.trimEnd().split("\n"), r.stderr).toHaveLength(1);
      expect(r.stderr).toContain(says);
      expect(tree(d), node).toEqual([]);
    }
  });
});

describe("unit files", () => {
  const service = () =>
    readFileSync(join(root, "packaging", "systemd", "pvemigrate-dns-reconcile.service"), "utf8");
  const timer = () =>
    readFileSync(join(root, "packaging", "systemd", "pvemigrate-dns-reconcile.timer"), "utf8");

  it("the service is a oneshot reconcile and the timer runs it every minute and after boot", () => {
    expect(unitSection(service(), "Service")).toMatchObject({
      Type: "oneshot",
      ExecStart: "/usr/local/bin/pvemigrate-dns reconcile",
    });
    expect(unitSection(timer(), "Timer")).toEqual({
      OnBootSec: "30s",
      OnUnitActiveSec: "60s",
      AccuracySec: "5s",
    });
    expect(unitSection(timer(), "Install")).toEqual({ WantedBy: "timers.target" });
  });

  // systemd is not required (CI containers may lack it): skip loudly, never fail for its absence.
  const analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].find((p) => existsSync(p));
  if (!analyze) {
    process.stderr.write(
      "\n*** SKIPPING systemd-analyze verify of the unit files: systemd-analyze not installed ***\n\n",
    );
  }

  it.skipIf(!analyze)("systemd-analyze verify accepts them", () => {
    // verify also checks that ExecStart exists: point it at a real installed copy below a DESTDIR.
    const d = freshDestdir();
    expect(install(d).code).toBe(0);
    const units = join(work, `units-${process.pid}`);
    mkdirSync(units);
    writeFileSync(
      join(units, "pvemigrate-dns-reconcile.service"),
      service().replace("ExecStart=/usr/local/bin/", `ExecStart=${join(d, "usr/local/bin")}/`),
    );
    writeFileSync(join(units, "pvemigrate-dns-reconcile.timer"), timer());
    const r = spawnSync(
      analyze!,
      [
        "verify",
        "--man=no",
        join(units, "pvemigrate-dns-reconcile.service"),
        join(units, "pvemigrate-dns-reconcile.timer"),
      ],
      { encoding: "utf8", timeout: 30_000 },
    );
    // Bad values are "ignored" with a warning and exit 0, so the warnings about our units count too.
    const ours = r.stderr.split("\n").filter((l) => l.includes("pvemigrate-dns-reconcile"));
    expect(ours, r.stderr).toEqual([]);
    expect(r.status, r.stderr).toBe(0);
  });

  it("install.sh is POSIX sh (dash), the shell Debian runs it with", () => {
    expect(() => execFileSync("sh", ["-n", installer])).not.toThrow();
    expect(readFileSync(installer, "utf8").startsWith("#!/bin/sh\n")).toBe(true);
  });
});
