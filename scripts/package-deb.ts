// `npm run package`: builds dist/pvemigrate-dns_<version>_all.deb offline with
// plain dpkg-deb (no debhelper, no network): stages the tree in a temp dir
// from the built bundles (scripts/build.mjs), packaging/ and the metadata
// scripts/deb-control.ts computes, then packs it owned by root. Reproducible:
// every timestamp is SOURCE_DATE_EPOCH (default: the last commit's time) and
// gzip writes none. Why the files go where they go: packaging/README.md.
//
//   node --import tsx scripts/package-deb.ts [--dist DIR] [--out DIR]
//     --dist  the built bundles, man page and completion (default: dist/)
//     --out   where the .deb goes (default: the --dist directory)
// Environment: DEBFULLNAME + DEBEMAIL set the Maintainer field (the usual
// Debian variables); SOURCE_DATE_EPOCH the timestamps.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { z } from "zod";
import {
  CONFFILES,
  DEB_FILES,
  DEB_NODE,
  DEB_SYMLINKS,
  type DebEntry,
  debianVersion,
  installedSizeKiB,
  MAINTAINER_SCRIPTS,
  nodejsDependency,
  renderChangelog,
  renderControl,
  renderMd5sums,
} from "./deb-control.ts";

const root = join(import.meta.dirname, "..");
const packaging = join(root, "packaging");

/** One line naming what is wrong, and nothing built. */
function fail(message: string): never {
  process.stderr.write(`package-deb: ${message}\n`);
  process.exit(1);
}

const PackageJson = z.object({
  version: z.string(),
  engines: z.object({ node: z.string() }),
});

function sourceDateEpoch(): number {
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env !== undefined) {
    if (!/^\d+$/.test(env)) fail(`SOURCE_DATE_EPOCH "${env}" is not a number of seconds`);
    return Number(env);
  }
  const git = spawnSync("git", ["log", "-1", "--format=%ct"], { cwd: root, encoding: "utf8" });
  const fromGit = git.status === 0 ? git.stdout.trim() : "";
  return /^\d+$/.test(fromGit)
    ? Number(fromGit)
    : Math.floor(statSync(join(root, "package.json")).mtimeMs / 1000);
}

function maintainer(): string {
  const { DEBFULLNAME: name, DEBEMAIL: email } = process.env;
  if (name && email) return `${name} <${email}>`;
  return "pvemigrate-dns maintainers <maintainers@pvemigrate-dns.invalid>";
}

/** The bytes a shipped file gets, from its source. */
function content(entry: DebEntry, sourcePath: string): Buffer {
  const raw = readFileSync(sourcePath);
  switch (entry.transform) {
    case "shebang": {
      const nl = raw.indexOf(10);
      const first = raw.subarray(0, nl).toString();
      if (first !== "#!/usr/bin/env node")
        fail(`${sourcePath} starts with "${first}", not "#!/usr/bin/env node": rebuild it`);
      // Depends: nodejs puts node at /usr/bin/node, on Proxmox's hook PATH; naming it
      // means the hook, the CLI and the timer all run the node the dependency vouches for.
      return Buffer.concat([Buffer.from(`#!${DEB_NODE}`), raw.subarray(nl)]);
    }
    case "unit": {
      const text = raw.toString();
      const from = "ExecStart=/usr/local/bin/pvemigrate-dns ";
      if (text.split(from).length !== 2) fail(`${sourcePath}: expected exactly one "${from}" line`);
      return Buffer.from(text.replace(from, "ExecStart=/usr/bin/pvemigrate-dns "));
    }
    case "gzip":
      // zlib writes no name and a zero mtime: the same bytes every time (gzip -9n).
      return gzipSync(raw, { level: 9 });
    default:
      return raw;
  }
}

function write(stage: string, target: string, bytes: Buffer | string, mode: number): void {
  const file = join(stage, target);
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  writeFileSync(file, bytes);
  chmodSync(file, mode);
}

/** Every directory, file and symlink below `dir`, depth first, relative paths. */
function walk(dir: string, prefix = ""): Array<{ rel: string; kind: "dir" | "file" | "link" }> {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const rel = `${prefix}/${e.name}`;
    if (e.isDirectory()) return [{ rel, kind: "dir" as const }, ...walk(join(dir, e.name), rel)];
    return [{ rel, kind: e.isSymbolicLink() ? ("link" as const) : ("file" as const) }];
  });
}

function main(): void {
  const { values } = parseArgs({ options: { dist: { type: "string" }, out: { type: "string" } } });
  const dist = resolve(values.dist ?? join(root, "dist"));
  const out = resolve(values.out ?? dist);
  const parsed = PackageJson.safeParse(JSON.parse(readFileSync(join(root, "package.json"), "utf8")));
  if (!parsed.success)
    fail(`package.json: ${parsed.error.issues.map((i) => i.path.join(".")).join(", ")} missing`);
  const pkg = parsed.data;
  let version: string;
  let depends: string;
  try {
    version = debianVersion(pkg.version);
    depends = nodejsDependency(pkg.engines.node);
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }

  const dir = (e: DebEntry) => (e.from === "dist" ? dist : packaging);
  for (const e of DEB_FILES) {
    const src = join(dir(e), e.source);
    if (!existsSync(src)) {
      fail(
        e.from === "dist"
          ? `${src} is missing: \`npm run build\` (scripts/build.mjs) writes the bundles, the man page and the bash completion`
          : `${src} is missing from the source tree`,
      );
    }
  }
  if (spawnSync("dpkg-deb", ["--version"]).status !== 0) fail("dpkg-deb not found (apt install dpkg)");

  const epoch = sourceDateEpoch();
  const stage = mkdtempSync(join(tmpdir(), "pvemigrate-dns-deb-"));
  try {
    chmodSync(stage, 0o755);
    for (const e of DEB_FILES) write(stage, e.target, content(e, join(dir(e), e.source)), e.mode);
    for (const l of DEB_SYMLINKS) {
      mkdirSync(dirname(join(stage, l.target)), { recursive: true });
      symlinkSync(l.link, join(stage, l.target));
    }
    const who = maintainer();
    write(
      stage,
      "/usr/share/doc/pvemigrate-dns/changelog.gz",
      gzipSync(renderChangelog(version, who, epoch), { level: 9 }),
      0o644,
    );

    const entries = walk(stage);
    const md5 = new Map<string, string>();
    for (const { rel, kind } of entries) {
      if (kind === "file")
        md5.set(
          rel,
          createHash("md5")
            .update(readFileSync(join(stage, rel)))
            .digest("hex"),
        );
    }
    const size = installedSizeKiB(
      [...md5.keys()].map((rel) => statSync(join(stage, rel)).size),
      entries.filter((e) => e.kind !== "file").length,
    );
    write(
      stage,
      "/DEBIAN/control",
      renderControl({ version, maintainer: who, depends, installedSizeKiB: size }),
      0o644,
    );
    write(stage, "/DEBIAN/md5sums", renderMd5sums(md5), 0o644);
    write(stage, "/DEBIAN/conffiles", CONFFILES.map((f) => `${f}\n`).join(""), 0o644);
    for (const s of MAINTAINER_SCRIPTS)
      write(stage, `/DEBIAN/${s}`, readFileSync(join(packaging, "deb", s)), 0o755);

    // The builder's umask must not reach the package: directories 755, all stamped SOURCE_DATE_EPOCH.
    for (const { rel, kind } of walk(stage)) {
      if (kind === "dir") chmodSync(join(stage, rel), 0o755);
      lutimesSync(join(stage, rel), epoch, epoch);
    }
    lutimesSync(stage, epoch, epoch);

    mkdirSync(out, { recursive: true });
    const deb = join(out, `pvemigrate-dns_${version}_all.deb`);
    execFileSync("dpkg-deb", ["--root-owner-group", "-Zxz", "--build", stage, deb], {
      env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) },
      stdio: ["ignore", "ignore", "inherit"],
    });
    process.stderr.write(`built ${relative(process.cwd(), deb) || deb}\n`);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

main();
