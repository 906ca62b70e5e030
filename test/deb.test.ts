import { spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NOOP_MARKER } from "../lib/doctor/hook-file.ts";
import { debianVersion, nodejsDependency } from "../scripts/deb-control.ts";
import { missingNode18, NODE18 } from "./support/node18.ts";
import { missing } from "./support/requirements.ts";

// `npm run package` end to end: the .deb is built from freshly built bundles,
// then read back with dpkg-deb, judged by lintian, and installed, removed and
// purged for real by dpkg below a temp root (`dpkg --root`, maintainer
// scripts run chrootless with DPKG_ROOT, which they and deb-systemd-helper
// honour): nothing of this machine's /usr, /etc, /var/lib/vz or systemd is touched.
// Proxmox runs a hookscript with PATH=/sbin:/bin:/usr/sbin:/usr/bin
// (pve-common PVE::CLIHandler / PVE::Daemon), and refuses to start a guest
// whose hookscript file is missing or not executable (pve-guest-common
// PVE::GuestHelpers::check_hookscript): the install and removal checks follow that.

const root = join(import.meta.dirname, "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  version: string;
  engines: { node: string };
};
const EPOCH = 1_700_000_000; // 2023-11-14 22:13:20 UTC
const PVE_PATH = "PATH=/sbin:/bin:/usr/sbin:/usr/bin";
const HOOK = "var/lib/vz/snippets/pvemigrate-dns.mjs";
const WANTS = "etc/systemd/system/timers.target.wants/pvemigrate-dns-reconcile.timer";
const skip = missing({
  root: true,
  bins: ["dpkg-deb", "dpkg", "lintian", "logrotate", "deb-systemd-helper"],
});

let work: string;
let dist: string;
let deb: string;
/** The .deb's files (dpkg-deb -x) and its control area (dpkg-deb -e). */
let x: string;
let control: string;
const packageDeb = (out: string, distDir = dist) =>
  spawnSync(
    process.execPath,
    ["--import", "tsx", join(root, "scripts", "package-deb.ts"), "--dist", distDir, "--out", out],
    {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH) },
      timeout: 60_000,
    },
  );

beforeAll(() => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), `pvemigrate-deb-${process.pid}-`));
  dist = join(work, "dist");
  const b = spawnSync(process.execPath, [join(root, "scripts", "build.mjs"), dist], { encoding: "utf8" });
  expect(b.status, b.stderr).toBe(0);
  const r = packageDeb(join(work, "out"));
  expect(r.status, r.stderr).toBe(0);
  deb = join(work, "out", `pvemigrate-dns_${debianVersion(pkg.version)}_all.deb`);
  expect(existsSync(deb), r.stderr).toBe(true);
  x = join(work, "extracted");
  control = join(work, "control");
  expect(spawnSync("dpkg-deb", ["-x", deb, x]).status).toBe(0);
  expect(spawnSync("dpkg-deb", ["-e", deb, control]).status).toBe(0);
}, 120_000);
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const run = (cmd: string, args: string[], env: Record<string, string> = {}) =>
  spawnSync(cmd, args, { encoding: "utf8", env: { ...process.env, ...env }, timeout: 120_000 });
/** Runs `file args` as Proxmox would: nothing but these variables, stdin empty. */
const bare = (vars: string[], file: string, args: string[]) =>
  spawnSync("/usr/bin/env", ["-i", ...vars, file, ...args], { encoding: "utf8", input: "", timeout: 30_000 });
const mode = (file: string) => statSync(file).mode & 0o7777;
const firstLine = (file: string) => readFileSync(file, "utf8").split("\n", 1)[0];
/** The bundle with its `#!/usr/bin/env node` line replaced by `#!/usr/bin/node`. */
const debBundle = (bundle: string) => {
  const b = readFileSync(bundle);
  return Buffer.concat([Buffer.from("#!/usr/bin/node"), b.subarray(b.indexOf(10))]);
};

describe.skipIf(skip)("the .deb as built", () => {
  it("holds exactly these paths, with these modes, owned by root, stamped SOURCE_DATE_EPOCH", () => {
    const r = run("dpkg-deb", ["-c", deb], { TZ: "UTC" });
    expect(r.status, r.stderr).toBe(0);
    const rows = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => l.split(/\s+/));
    expect(new Set(rows.map((c) => c[1]))).toEqual(new Set(["root/root"]));
    expect(new Set(rows.map((c) => `${c[3]} ${c[4]}`))).toEqual(new Set(["2023-11-14 22:13"]));
    const dirs = [
      "./",
      "./etc/",
      "./etc/logrotate.d/",
      "./usr/",
      "./usr/bin/",
      "./usr/lib/",
      "./usr/lib/systemd/",
      "./usr/lib/systemd/system/",
      "./usr/share/",
      "./usr/share/bash-completion/",
      "./usr/share/bash-completion/completions/",
      "./usr/share/doc/",
      "./usr/share/doc/pvemigrate-dns/",
      "./usr/share/man/",
      "./usr/share/man/man1/",
      "./usr/share/pvemigrate-dns/",
    ].map((d) => `drwxr-xr-x ${d}`);
    const files = [
      "-rw-r--r-- ./etc/logrotate.d/pvemigrate-dns",
      "lrwxrwxrwx ./usr/bin/pvemigrate-dns -> ../share/pvemigrate-dns/pvemigrate-dns.cjs",
      "-rw-r--r-- ./usr/lib/systemd/system/pvemigrate-dns-reconcile.service",
      "-rw-r--r-- ./usr/lib/systemd/system/pvemigrate-dns-reconcile.timer",
      "-rw-r--r-- ./usr/lib/systemd/system/pvemigrate-dns-hook.socket",
      "-rw-r--r-- ./usr/lib/systemd/system/pvemigrate-dns-hook.service",
      "-rw-r--r-- ./usr/share/bash-completion/completions/pvemigrate-dns",
      "-rw-r--r-- ./usr/share/doc/pvemigrate-dns/changelog.gz",
      "-rw-r--r-- ./usr/share/doc/pvemigrate-dns/copyright",
      "-rw-r--r-- ./usr/share/man/man1/pvemigrate-dns.1.gz",
      "-rwxr-xr-x ./usr/share/pvemigrate-dns/hookscript.cjs",
      "-rwxr-xr-x ./usr/share/pvemigrate-dns/pvemigrate-dns.cjs",
      "lrwxrwxrwx ./usr/share/pvemigrate-dns/pvemigrate-dns.mjs -> pvemigrate-dns.cjs",
      "-rw-r--r-- ./usr/share/pvemigrate-dns/pvemigrate-dns-full.mjs",
    ];
    expect(rows.map((c) => `${c[0]} ${c.slice(5).join(" ")}`).sort()).toEqual([...dirs, ...files].sort());
  });

  it("control: version and nodejs dependency from package.json, conffiles, maintainer scripts", () => {
    const field = (name: string) => run("dpkg-deb", ["-f", deb, name]).stdout.trim();
    expect(field("Package")).toBe("pvemigrate-dns");
    expect(field("Version")).toBe(debianVersion(pkg.version));
    expect(field("Architecture")).toBe("all");
    expect(field("Depends")).toBe(nodejsDependency(pkg.engines.node));
    expect(field("Depends")).toMatch(/^nodejs \(>= \d+\.\d+/);
    expect(field("Section")).toBe("admin");
    expect(field("Priority")).toBe("optional");
    expect(field("Maintainer")).toMatch(/^[^<]+ <[^@\s]+@[^>\s]+>$/);
    expect(Number(field("Installed-Size"))).toBeGreaterThan(statSync(deb).size / 1024);
    expect(readFileSync(join(control, "conffiles"), "utf8")).toBe("/etc/logrotate.d/pvemigrate-dns\n");
    expect(readdirSync(control).sort()).toEqual([
      "conffiles",
      "control",
      "md5sums",
      "postinst",
      "postrm",
      "prerm",
    ]);
    for (const s of ["postinst", "prerm", "postrm"]) {
      expect(mode(join(control, s))).toBe(0o755);
      expect(firstLine(join(control, s))).toBe("#!/bin/sh");
      // Debian runs maintainer scripts with dash: POSIX sh only.
      expect(run("sh", ["-n", join(control, s)]).status, s).toBe(0);
    }
  });

  it("the files are the built ones: bundles with #!/usr/bin/node, the unit calling /usr/bin, gzip without a timestamp", () => {
    const sums = spawnSync("md5sum", ["-c", "--quiet", join(control, "md5sums")], {
      cwd: x,
      encoding: "utf8",
    });
    expect(sums.status, sums.stdout + sums.stderr).toBe(0);
    expect(
      readFileSync(join(x, "usr/share/pvemigrate-dns/pvemigrate-dns.cjs")).equals(
        debBundle(join(dist, "pvemigrate-dns.cjs")),
      ),
    ).toBe(true);
    expect(
      readFileSync(join(x, "usr/share/pvemigrate-dns/pvemigrate-dns-full.mjs")).equals(
        readFileSync(join(dist, "pvemigrate-dns-full.mjs")),
      ),
    ).toBe(true);
    // The CommonJS launcher (scripts/build.mjs), and the .mjs name the hookscript looks for linking to it.
    expect(readlinkSync(join(x, "usr/bin/pvemigrate-dns"))).toBe(
      "../share/pvemigrate-dns/pvemigrate-dns.cjs",
    );
    expect(readlinkSync(join(x, "usr/share/pvemigrate-dns/pvemigrate-dns.mjs"))).toBe("pvemigrate-dns.cjs");
    expect(
      readFileSync(join(x, "usr/share/pvemigrate-dns/hookscript.cjs")).equals(
        debBundle(join(dist, "hookscript.cjs")),
      ),
    ).toBe(true);
    const service = readFileSync(join(x, "usr/lib/systemd/system/pvemigrate-dns-reconcile.service"), "utf8");
    expect(service).toContain("\nExecStart=/usr/bin/pvemigrate-dns reconcile\n");
    expect(service).not.toContain("ExecStart=/usr/local");
    // Before a config exists the timer's runs are skipped, not failed.
    expect(service).toContain("\nConditionPathExists=/etc/pve/pvemigrate-dns.yaml\n");
    expect(readFileSync(join(x, "etc/logrotate.d/pvemigrate-dns"), "utf8")).toBe(
      readFileSync(join(root, "packaging/logrotate/pvemigrate-dns"), "utf8"),
    );
    const man = readFileSync(join(x, "usr/share/man/man1/pvemigrate-dns.1.gz"));
    expect(man.readUInt32LE(4)).toBe(0); // gzip MTIME
    expect(gunzipSync(man).equals(readFileSync(join(dist, "pvemigrate-dns.1")))).toBe(true);
    expect(
      readFileSync(join(x, "usr/share/bash-completion/completions/pvemigrate-dns")).equals(
        readFileSync(join(dist, "pvemigrate-dns.bash-completion")),
      ),
    ).toBe(true);
    const changelog = gunzipSync(
      readFileSync(join(x, "usr/share/doc/pvemigrate-dns/changelog.gz")),
    ).toString();
    expect(changelog).toMatch(/^pvemigrate-dns \(\S+\) unstable; urgency=medium\n/);
    expect(changelog).toContain("Tue, 14 Nov 2023 22:13:20 +0000");
  });

  it("the CLI and the hookscript start with Proxmox's environment", () => {
    // Their #! names /usr/bin/node (what Depends: nodejs installs); where this machine has no
    // /usr/bin/node, the node running the tests starts them instead.
    const node = existsSync("/usr/bin/node") ? [] : [process.execPath];
    const start = (file: string, args: string[], vars: string[] = []) =>
      node.length
        ? bare([PVE_PATH, "LC_ALL=C", ...vars], node[0]!, [file, ...args])
        : bare([PVE_PATH, "LC_ALL=C", ...vars], file, args);
    const cli = start(join(x, "usr/bin/pvemigrate-dns"), ["--version"]);
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout.trim()).toBe(pkg.version);
    const hook = start(
      join(x, "usr/share/pvemigrate-dns/hookscript.cjs"),
      ["101", "pre-start"],
      [`PVEMIGRATE_DNS_CONFIG=${join(work, "absent.yaml")}`],
    );
    expect(hook.status, hook.stderr).toBe(0);
    expect(hook.stderr).toContain("absent.yaml does not exist; doing nothing");
  });

  // Proxmox VE 8's Debian 12 nodejs is 18.19: Depends allows it, so the files must start there too.
  // Through the /usr/bin link: before Node 20.19 an extensionless file is CommonJS, the .mjs it
  // resolves to is a module.
  it.skipIf(missingNode18())(
    "the CLI (through its /usr/bin link) and the hookscript start under Node.js 18",
    () => {
      const cli = bare([PVE_PATH, "LC_ALL=C"], NODE18, [join(x, "usr/bin/pvemigrate-dns"), "--version"]);
      expect(cli.status, cli.stderr).toBe(0);
      expect(cli.stdout.trim()).toBe(pkg.version);
      const hook = bare([PVE_PATH, "LC_ALL=C"], NODE18, [
        join(x, "usr/share/pvemigrate-dns/hookscript.cjs"),
        "x",
        "pre-start",
      ]);
      expect(hook.status).toBe(1);
      expect(hook.stderr).toContain('vmid "x" is not a VM id');
    },
  );

  it("lintian finds no errors (warnings are listed here)", () => {
    const r = run("lintian", ["--display-info", deb]);
    const tags = r.stdout.split("\n").filter((l) => /^[EWIX]: /.test(l));
    const warnings = tags.filter((l) => l.startsWith("W: "));
    if (warnings.length) process.stderr.write(`lintian warnings:\n${warnings.join("\n")}\n`);
    expect(
      tags.filter((l) => l.startsWith("E: ")),
      r.stdout,
    ).toEqual([]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  }, 120_000);

  it("is reproducible: a second build is byte for byte the same", () => {
    const r = packageDeb(join(work, "again"));
    expect(r.status, r.stderr).toBe(0);
    const again = join(work, "again", `pvemigrate-dns_${debianVersion(pkg.version)}_all.deb`);
    expect(readFileSync(again).equals(readFileSync(deb))).toBe(true);
  });

  it("refuses to build without the man page, naming it and what makes it", () => {
    const partial = join(work, "partial-dist");
    mkdirSync(partial);
    for (const f of [
      "pvemigrate-dns.cjs",
      "pvemigrate-dns-full.mjs",
      "hookscript.cjs",
      "pvemigrate-dns.bash-completion",
    ]) {
      writeFileSync(join(partial, f), readFileSync(join(dist, f)));
    }
    const r = packageDeb(join(work, "partial-out"), partial);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      `package-deb: ${join(partial, "pvemigrate-dns.1")} is missing: \`npm run build\` (scripts/build.mjs) writes the bundles, the man page and the bash completion`,
    );
    expect(existsSync(join(work, "partial-out"))).toBe(false);
  });

  it("the copyright file names every bundled run-time dependency, its version and license", () => {
    const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as {
      packages: Record<string, { version?: string; license?: string; dev?: boolean; devOptional?: boolean }>;
    };
    const spdxToDebian = (l: string) => (l === "GPL-3.0" || l === "GPL-3.0-only" ? "GPL-3" : l);
    const bundled = Object.entries(lock.packages)
      .filter(([p, v]) => p.startsWith("node_modules/") && !v.dev && !v.devOptional)
      .map(([p, v]) => [p.slice("node_modules/".length), v] as const)
      // scripts/build.mjs aliases undici to scripts/undici-shim.mjs: not in the bundles.
      // argparse serves only js-yaml's command-line tool (bin/js-yaml.mjs), which no bundle imports.
      .filter(([name]) => name !== "undici" && name !== "argparse")
      .map(([name, v]) => `${name} ${v.version}: ${spdxToDebian(v.license ?? "?")}`)
      .sort();
    const copyright = readFileSync(join(root, "packaging/deb/copyright"), "utf8");
    const listed = [...copyright.matchAll(/^ (\S+ \d[^:]*: [^,]+),/gm)].map((m) => m[1]).sort();
    expect(listed).toEqual(bundled);
    // ...and what the list leaves out really is left out of every bundle.
    for (const file of ["pvemigrate-dns.mjs", "pvemigrate-dns-full.mjs", "hookscript.cjs"]) {
      expect(readFileSync(join(dist, file), "utf8")).not.toMatch(/node_modules\/(argparse|undici)\//);
    }
    expect(copyright).toMatch(
      /^Format: https:\/\/www\.debian\.org\/doc\/packaging-manuals\/copyright-format\/1\.0\/$/m,
    );
  });
});

describe.skipIf(skip)("dpkg installs, removes and purges it (below a temp root)", () => {
  let counter = 0;
  /** An empty system for `dpkg --root`: just dpkg's database. */
  function freshRoot(): string {
    const r = join(work, `root-${++counter}`);
    for (const d of ["info", "updates", "triggers"])
      mkdirSync(join(r, "var/lib/dpkg", d), { recursive: true });
    writeFileSync(join(r, "var/lib/dpkg/status"), "");
    writeFileSync(join(r, "var/lib/dpkg/available"), "");
    return r;
  }
  // chrootless: the maintainer scripts run here with DPKG_ROOT=<root>; nodejs is not in that database.
  const dpkg = (r: string, ...args: string[]) =>
    run("dpkg", [`--root=${r}`, "--force-script-chrootless", "--force-depends", ...args]);
  const guest = (r: string, node: string, kind: string, vmid: number, hook: string) => {
    mkdirSync(join(r, "etc/pve/nodes", node, kind), { recursive: true });
    writeFileSync(join(r, "etc/pve/nodes", node, kind, `${vmid}.conf`), `memory: 512\nhookscript: ${hook}\n`);
  };
  const isLink = (file: string) => lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink() ?? false;

  it("install copies the hookscript into the snippets directory (755, atomically) and enables the timer", () => {
    const r = freshRoot();
    const i = dpkg(r, "-i", deb);
    expect(i.status, i.stdout + i.stderr).toBe(0);
    // no temp file left; the name guests use links to the CommonJS copy (Node picks the format by the real path)
    expect(readdirSync(join(r, "var/lib/vz/snippets")).sort()).toEqual([
      "pvemigrate-dns.cjs",
      "pvemigrate-dns.mjs",
    ]);
    expect(readlinkSync(join(r, HOOK))).toBe("pvemigrate-dns.cjs");
    expect(mode(join(r, HOOK))).toBe(0o755);
    expect(readFileSync(join(r, HOOK)).equals(debBundle(join(dist, "hookscript.cjs")))).toBe(true);
    expect(mode(join(r, "usr/bin/pvemigrate-dns"))).toBe(0o755);
    // deb-systemd-helper enable: the symlink systemctl enable makes, for WantedBy=timers.target.
    expect(isLink(join(r, WANTS))).toBe(true);
    expect(readlinkSync(join(r, WANTS))).toBe("/usr/lib/systemd/system/pvemigrate-dns-reconcile.timer");
    expect(i.stdout).toContain("qm set <vmid> --hookscript local:snippets/pvemigrate-dns.mjs");
  });

  it("install names leftovers of an install.sh install and a storage local without snippets, and still succeeds", () => {
    const r = freshRoot();
    mkdirSync(join(r, "etc/systemd/system"), { recursive: true });
    writeFileSync(join(r, "etc/systemd/system/pvemigrate-dns-reconcile.service"), "[Service]\n");
    mkdirSync(join(r, "etc/pve"), { recursive: true });
    writeFileSync(join(r, "etc/pve/storage.cfg"), "dir: local\n\tpath /var/lib/vz\n\tcontent iso,backup\n");
    const i = dpkg(r, "-i", deb);
    expect(i.status, i.stdout + i.stderr).toBe(0);
    expect(i.stderr).toContain(
      "/etc/systemd/system/pvemigrate-dns-reconcile.service is left from packaging/install.sh and overrides",
    );
    expect(i.stderr).not.toContain("/usr/local/bin/pvemigrate-dns is left");
    expect(i.stderr).toContain("pvesm set local --content iso,backup,snippets");
  });

  it("an upgrade (or reinstall) replaces the hookscript copy and keeps the timer enabled", () => {
    const r = freshRoot();
    expect(dpkg(r, "-i", deb).status).toBe(0);
    writeFileSync(join(r, HOOK), "stale");
    const again = dpkg(r, "-i", deb);
    expect(again.status, again.stdout + again.stderr).toBe(0);
    expect(readFileSync(join(r, HOOK)).equals(debBundle(join(dist, "hookscript.cjs")))).toBe(true);
    expect(isLink(join(r, WANTS))).toBe(true);
  });

  it("an upgrade keeps the timer disabled when the admin disabled it", () => {
    const r = freshRoot();
    expect(dpkg(r, "-i", deb).status).toBe(0);
    // What `systemctl disable` does; deb-systemd-helper's was-enabled then says no.
    rmSync(join(r, WANTS));
    expect(isLink(join(r, WANTS))).toBe(false);
    expect(dpkg(r, "-i", deb).status).toBe(0);
    expect(isLink(join(r, WANTS))).toBe(false);
  });

  it("remove leaves an executable no-op hookscript, names the guests still using it; a reinstall brings it back", () => {
    const r = freshRoot();
    expect(dpkg(r, "-i", deb).status).toBe(0);
    guest(r, "pve1", "qemu-server", 101, "local:snippets/pvemigrate-dns.mjs");
    guest(r, "pve1", "qemu-server", 102, "local:snippets/other-hook.sh");
    guest(r, "pve2", "lxc", 200, "local:snippets/pvemigrate-dns.mjs");
    const rm = dpkg(r, "--remove", "pvemigrate-dns");
    expect(rm.status, rm.stdout + rm.stderr).toBe(0);
    expect(existsSync(join(r, "usr/bin/pvemigrate-dns"))).toBe(false);
    expect(existsSync(join(r, "usr/share/pvemigrate-dns/hookscript.cjs"))).toBe(false);
    // check_hookscript: present and executable, so guests naming it still start, migrate, recover.
    expect(readdirSync(join(r, "var/lib/vz/snippets")).sort()).toEqual([
      "pvemigrate-dns.cjs",
      "pvemigrate-dns.mjs",
    ]);
    // The name guests use is a file of its own now, not a link to a file that may go.
    expect(isLink(join(r, HOOK))).toBe(false);
    expect(mode(join(r, HOOK))).toBe(0o755);
    expect(firstLine(join(r, HOOK))).toBe("#!/bin/sh");
    expect(readFileSync(join(r, HOOK), "utf8")).toContain(NOOP_MARKER); // what doctor recognizes
    const noop = bare([PVE_PATH, "LC_ALL=C"], join(r, HOOK), ["101", "pre-start"]);
    expect([noop.status, noop.stdout, noop.stderr]).toEqual([0, "", ""]);
    const detach = rm.stdout.split("\n").filter((l) => l.includes("--delete hookscript"));
    expect(detach.map((l) => l.trim())).toEqual([
      "qm set 101 --delete hookscript",
      "pct set 200 --delete hookscript",
    ]);
    expect(rm.stdout).toContain("rm /var/lib/vz/snippets/pvemigrate-dns.mjs");
    // A conffile stays until purge.
    expect(existsSync(join(r, "etc/logrotate.d/pvemigrate-dns"))).toBe(true);

    expect(dpkg(r, "-i", deb).status).toBe(0);
    expect(readFileSync(join(r, HOOK)).equals(debBundle(join(dist, "hookscript.cjs")))).toBe(true);
  });

  it("purge deletes the conffile, the state directory and the timer's enable state, and still keeps the no-op", () => {
    const r = freshRoot();
    expect(dpkg(r, "-i", deb).status).toBe(0);
    mkdirSync(join(r, "var/lib/pvemigrate-dns/journal"), { recursive: true });
    writeFileSync(join(r, "var/lib/pvemigrate-dns/worker.log"), "worker output\n");
    const purge = dpkg(r, "--purge", "pvemigrate-dns");
    expect(purge.status, purge.stdout + purge.stderr).toBe(0);
    expect(existsSync(join(r, "etc/logrotate.d/pvemigrate-dns"))).toBe(false);
    expect(existsSync(join(r, "var/lib/pvemigrate-dns"))).toBe(false);
    expect(isLink(join(r, WANTS))).toBe(false);
    expect(mode(join(r, HOOK))).toBe(0o755);
    expect(readFileSync(join(r, HOOK), "utf8")).toContain(NOOP_MARKER);
  });
});

describe.skipIf(skip)("worker.log rotation (packaging/logrotate/pvemigrate-dns)", () => {
  const config = join(root, "packaging/logrotate/pvemigrate-dns");

  it("logrotate accepts the shipped file as it is", () => {
    const state = join(work, "logrotate-debug.state");
    const r = run("logrotate", ["-d", "-s", state, config]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr + r.stdout).not.toMatch(/error:/i);
    expect(r.stderr + r.stdout).toContain("rotating pattern: /var/lib/pvemigrate-dns/worker.log");
  });

  it("rotates by renaming: old lines kept (compressed one cycle later), the next worker starts a new file", () => {
    const dir = join(work, "state");
    mkdirSync(dir, { mode: 0o700 });
    const log = join(dir, "worker.log");
    // The shipped rules, pointed at a temp state directory.
    const conf = join(work, "logrotate.conf");
    writeFileSync(conf, readFileSync(config, "utf8").replace("/var/lib/pvemigrate-dns/worker.log", log), {
      mode: 0o644,
    });
    const rotate = () => run("logrotate", ["-f", "-s", join(work, "logrotate.state"), conf]);
    /** What the hook does for each worker (lib/orchestrate/hook-handoff.ts spawnDetachedWorker). */
    const workerWrites = (line: string) => {
      const fd = openSync(log, "a", 0o600);
      writeFileSync(fd, `${line}\n`);
      closeSync(fd);
    };
    workerWrites("first worker");
    expect(rotate().status).toBe(0);
    expect(existsSync(log)).toBe(false); // nocreate: the next worker creates it
    expect(readFileSync(`${log}.1`, "utf8")).toBe("first worker\n");
    workerWrites("second worker");
    expect(mode(log)).toBe(0o600);
    const second = rotate();
    expect(second.status, second.stderr).toBe(0);
    expect(readFileSync(`${log}.1`, "utf8")).toBe("second worker\n");
    expect(gunzipSync(readFileSync(`${log}.2.gz`)).toString()).toBe("first worker\n");
  });
});
