// The pure half of `npm run package` (scripts/package-deb.ts): what goes into
// the .deb and the text of its metadata, computed from package.json and the
// build time alone, so the same inputs give the same bytes (reproducible) and
// every rule here has a table test (test/deb-pure.test.ts).

/** Where each shipped file comes from (`dist/` or `packaging/`), where it goes, its mode. */
export interface DebEntry {
  from: "dist" | "packaging";
  /** Relative to the `from` directory. */
  source: string;
  /** Absolute path on the installed system. */
  target: string;
  mode: 0o755 | 0o644;
  /**
   * shebang: the bundle's `#!/usr/bin/env node` becomes `#!/usr/bin/node`;
   * unit: the tarball's /usr/local/bin path becomes /usr/bin; gzip: gzip -9n.
   */
  transform?: "shebang" | "unit" | "gzip";
}

/** The Node.js Depends: nodejs provides, and the .deb's files point at. */
export const DEB_NODE = "/usr/bin/node";

export const DEB_FILES: readonly DebEntry[] = [
  // The CLI's launcher, run through the /usr/bin link (DEB_SYMLINKS): CommonJS, so .cjs (Node
  // resolves the link and picks the module format by the real name; scripts/build.mjs says why).
  {
    from: "dist",
    source: "pvemigrate-dns.cjs",
    target: "/usr/share/pvemigrate-dns/pvemigrate-dns.cjs",
    mode: 0o755,
    transform: "shebang",
  },
  // The full CLI, imported by the launcher above from its own directory for every command but a cached `dns set`.
  {
    from: "dist",
    source: "pvemigrate-dns-full.mjs",
    target: "/usr/share/pvemigrate-dns/pvemigrate-dns-full.mjs",
    mode: 0o644,
  },
  // Copied into /var/lib/vz/snippets by postinst (see packaging/deb/postinst for why not shipped there).
  // CommonJS, so .cjs: Node runs a .mjs through its slower ESM loader (scripts/build.mjs).
  {
    from: "dist",
    source: "hookscript.cjs",
    target: "/usr/share/pvemigrate-dns/hookscript.cjs",
    mode: 0o755,
    transform: "shebang",
  },
  {
    from: "dist",
    source: "pvemigrate-dns.1",
    target: "/usr/share/man/man1/pvemigrate-dns.1.gz",
    mode: 0o644,
    transform: "gzip",
  },
  {
    from: "dist",
    source: "pvemigrate-dns.bash-completion",
    target: "/usr/share/bash-completion/completions/pvemigrate-dns",
    mode: 0o644,
  },
  {
    from: "packaging",
    source: "systemd/pvemigrate-dns-reconcile.service",
    target: "/usr/lib/systemd/system/pvemigrate-dns-reconcile.service",
    mode: 0o644,
    transform: "unit",
  },
  {
    from: "packaging",
    source: "systemd/pvemigrate-dns-reconcile.timer",
    target: "/usr/lib/systemd/system/pvemigrate-dns-reconcile.timer",
    mode: 0o644,
  },
  {
    from: "packaging",
    source: "systemd/pvemigrate-dns-hook.socket",
    target: "/usr/lib/systemd/system/pvemigrate-dns-hook.socket",
    mode: 0o644,
  },
  {
    from: "packaging",
    source: "systemd/pvemigrate-dns-hook.service",
    target: "/usr/lib/systemd/system/pvemigrate-dns-hook.service",
    mode: 0o644,
    transform: "unit",
  },
  {
    from: "packaging",
    source: "logrotate/pvemigrate-dns",
    target: "/etc/logrotate.d/pvemigrate-dns",
    mode: 0o644,
  },
  {
    from: "packaging",
    source: "deb/copyright",
    target: "/usr/share/doc/pvemigrate-dns/copyright",
    mode: 0o644,
  },
];

/** Symbolic links: relative, as Debian policy 10.5 wants within one top-level directory. */
export const DEB_SYMLINKS: readonly { target: string; link: string }[] = [
  { target: "/usr/bin/pvemigrate-dns", link: "../share/pvemigrate-dns/pvemigrate-dns.cjs" },
  // The name the hookscript looks for the CLI by (hooks/full-cli.ts), as in dist/ and install.sh.
  { target: "/usr/share/pvemigrate-dns/pvemigrate-dns.mjs", link: "pvemigrate-dns.cjs" },
];

/** The maintainer scripts in packaging/deb/, shipped in DEBIAN/ with mode 755. */
export const MAINTAINER_SCRIPTS = ["postinst", "prerm", "postrm"] as const;

/** dpkg treats these as the admin's: kept on upgrade when edited, asked about on conflict. */
export const CONFFILES = DEB_FILES.filter((f) => f.target.startsWith("/etc/")).map((f) => f.target);

/**
 * package.json's version as a Debian version: a semver pre-release sorts
 * before its release, which in Debian is `~` (1.0.0-rc.1 -> 1.0.0~rc.1).
 * No Debian revision: upstream builds the package itself (a native package),
 * so a `-` inside the pre-release would read as one: it becomes `.`.
 */
export function debianVersion(version: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$/.exec(version);
  if (!m) throw new Error(`package.json version "${version}" is not semver (X.Y.Z[-pre])`);
  const [, major, minor, patch, pre] = m;
  return `${major}.${minor}.${patch}${pre ? `~${pre.replaceAll("-", ".")}` : ""}`;
}

/**
 * package.json engines.node (">=20.12", ">= 18.19.0") as the Depends on
 * Debian's nodejs: the bundles are built for exactly that minimum
 * (scripts/build.mjs target), so the package asks for the same.
 */
export function nodejsDependency(engines: string): string {
  const m = /^\s*>=\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$/.exec(engines);
  if (!m)
    throw new Error(`package.json engines.node "${engines}" is not ">=X.Y[.Z]": no Debian dependency for it`);
  return `nodejs (>= ${[m[1], m[2], m[3]].filter((p) => p !== undefined).join(".")})`;
}

export interface ControlInput {
  version: string;
  maintainer: string;
  depends: string;
  installedSizeKiB: number;
}

/** Policy 3.4.1: under 80 characters, no leading article, no package name. */
const SYNOPSIS = "moves NAT forwards, proxy routes and DNS names with Proxmox VE guests";

const LONG_DESCRIPTION = [
  "When a guest starts or migrates on a Proxmox VE cluster of NATed",
  "bare-metal nodes, pvemigrate-dns moves its public face to the guest's new",
  "node: port forwards (nftables), SNI/Host routes (HAProxy) and DNS names",
  "(TSIG-signed RFC 2136 updates), and the old node lets go.",
  ".",
  "This package installs the pvemigrate-dns command, the guest hookscript",
  "(copied into the snippets directory of storage local) and a systemd timer",
  "that reconciles every minute once /etc/pve/pvemigrate-dns.yaml exists.",
];

/** DEBIAN/control. */
export function renderControl(c: ControlInput): string {
  const fields: Array<[string, string]> = [
    ["Package", "pvemigrate-dns"],
    ["Version", c.version],
    ["Architecture", "all"],
    ["Maintainer", c.maintainer],
    ["Installed-Size", String(c.installedSizeKiB)],
    ["Depends", c.depends],
    ["Recommends", "nftables"],
    ["Suggests", "haproxy"],
    ["Section", "admin"],
    ["Priority", "optional"],
    ["Description", [SYNOPSIS, ...LONG_DESCRIPTION.map((l) => ` ${l}`)].join("\n")],
  ];
  return `${fields.map(([k, v]) => `${k}: ${v}`).join("\n")}\n`;
}

/** RFC 2822 date in UTC, as dpkg-parsechangelog wants it. */
export function changelogDate(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toUTCString().replace("GMT", "+0000");
}

/** usr/share/doc/<package>/changelog (native package: no `.Debian`). */
export function renderChangelog(version: string, maintainer: string, epochSeconds: number): string {
  return [
    `pvemigrate-dns (${version}) unstable; urgency=medium`,
    "",
    `  * Release ${version}; the changes are in the project's git history.`,
    "",
    ` -- ${maintainer}  ${changelogDate(epochSeconds)}`,
    "",
  ].join("\n");
}

/** What dpkg-gencontrol counts: each file's size rounded up to KiB, plus one per directory or symlink. */
export function installedSizeKiB(fileSizes: readonly number[], otherEntries: number): number {
  return fileSizes.reduce((sum, size) => sum + Math.ceil(size / 1024), 0) + otherEntries;
}

/** DEBIAN/md5sums: `<md5>  <path without leading slash>`, sorted by path. */
export function renderMd5sums(sums: ReadonlyMap<string, string>): string {
  return [...sums]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, md5]) => `${md5}  ${path.replace(/^\//, "")}\n`)
    .join("");
}
