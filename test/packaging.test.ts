import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// packaging/install.sh as an admin runs it on a node, but below DESTDIR (a
// temp dir): it never touches this machine's /usr/local, /var/lib/vz or
// systemd. The unit files are checked by systemd-analyze when it exists.

const root = join(import.meta.dirname, "..");
const installer = join(root, "packaging", "install.sh");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };

const BIN = "usr/local/bin/pvemigrate-dns";
const HOOK = "var/lib/vz/snippets/pvemigrate-dns.mjs";
const SERVICE = "etc/systemd/system/pvemigrate-dns-reconcile.service";
const TIMER = "etc/systemd/system/pvemigrate-dns-reconcile.timer";
const WANTS = "etc/systemd/system/timers.target.wants/pvemigrate-dns-reconcile.timer";
const CRON = "etc/cron.d/pvemigrate-dns";

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

function install(destdir: string, args: string[] = [], env: Record<string, string> = {}) {
  const r = spawnSync(installer, args, {
    encoding: "utf8",
    env: { ...process.env, DESTDIR: destdir, DIST: dist, ...env },
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const mode = (file: string) => statSync(file).mode & 0o7777;
// Buffer.equals: vitest's toEqual walks a 2 MB bundle byte by byte, for seconds.
const sameBytes = (a: string, b: string) => readFileSync(a).equals(readFileSync(b));
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
    expect(tree(d)).toEqual([BIN, SERVICE, WANTS, TIMER, HOOK].sort());
    expect(mode(join(d, BIN))).toBe(0o755);
    expect(mode(join(d, HOOK))).toBe(0o755);
    expect(mode(join(d, SERVICE))).toBe(0o644);
    expect(mode(join(d, TIMER))).toBe(0o644);
    expect(sameBytes(join(d, BIN), join(dist, "pvemigrate-dns.mjs"))).toBe(true);
    expect(sameBytes(join(d, HOOK), join(dist, "hookscript.mjs"))).toBe(true);
    // Enabled the way systemctl enable does it: a symlink to the unit's real (non-DESTDIR) path.
    expect(linked(join(d, WANTS))).toBe(true);
    expect(readlinkSync(join(d, WANTS))).toBe("/etc/systemd/system/pvemigrate-dns-reconcile.timer");
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
    expect(tree(d)).toEqual([BIN, SERVICE, WANTS, TIMER, HOOK].sort());
    expect(sameBytes(join(d, HOOK), join(dist, "hookscript.mjs"))).toBe(true);
    expect(mode(join(d, HOOK))).toBe(0o755);
  });

  it("--no-enable installs the units without enabling the timer", () => {
    const d = freshDestdir();
    const r = install(d, ["--no-enable"]);
    expect(r.code, r.stderr).toBe(0);
    expect(tree(d)).toEqual([BIN, SERVICE, TIMER, HOOK].sort());
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
    expect(noDist.stderr).toContain("pvemigrate-dns.mjs is missing: build the bundles first");
    const bad = install(d, ["--frobnicate"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('unknown argument "--frobnicate"');
    expect(readdirSync(d)).toEqual([]);
  });

  it("--uninstall removes everything it installed", () => {
    const d = freshDestdir();
    expect(install(d).code).toBe(0);
    expect(install(d, ["--cron"]).code).toBe(0);
    expect(install(d).code).toBe(0);
    const r = install(d, ["--uninstall"]);
    expect(r.code, r.stderr).toBe(0);
    expect(tree(d)).toEqual([]);
    expect(r.stdout).toContain("qm set <vmid> --delete hookscript");
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
