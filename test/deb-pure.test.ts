import { describe, expect, it } from "vitest";
import {
  CONFFILES,
  changelogDate,
  debianVersion,
  installedSizeKiB,
  nodejsDependency,
  renderChangelog,
  renderControl,
  renderMd5sums,
} from "../scripts/deb-control.ts";

// The metadata of the .deb (scripts/deb-control.ts), from package.json alone.

describe("debianVersion", () => {
  it.each([
    ["0.1.0", "0.1.0"],
    ["1.2.3", "1.2.3"],
    // A pre-release sorts before its release: Debian's ~ does that, semver's - does not.
    ["1.0.0-rc.1", "1.0.0~rc.1"],
    ["2.0.0-beta-2", "2.0.0~beta.2"],
  ])("%s becomes %s", (semver, deb) => {
    expect(debianVersion(semver)).toBe(deb);
  });

  it.each(["1.0", "v1.0.0", "1.0.0+build.5", "1.0.0-", ""])("rejects %j, naming it", (bad) => {
    expect(() => debianVersion(bad)).toThrow(`package.json version "${bad}" is not semver`);
  });
});

describe("nodejsDependency follows package.json engines.node", () => {
  it.each([
    [">=20.12", "nodejs (>= 20.12)"],
    [">= 18.19.0", "nodejs (>= 18.19.0)"],
    [">=v22", "nodejs (>= 22)"],
  ])("%s becomes %s", (engines, depends) => {
    expect(nodejsDependency(engines)).toBe(depends);
  });

  it.each(["^20.12.0", ">=18 <19 || >=20.12", "20.x", "*"])(
    "rejects %j, which has no single minimum",
    (bad) => {
      expect(() => nodejsDependency(bad)).toThrow(`engines.node "${bad}" is not ">=X.Y[.Z]"`);
    },
  );
});

describe("control, changelog, md5sums", () => {
  it("control: the fields in order, a synopsis under 80 characters, the long description indented", () => {
    const text = renderControl({
      version: "1.2.3",
      maintainer: "A B <a@b.example>",
      depends: "nodejs (>= 20.12)",
      installedSizeKiB: 42,
    });
    const lines = text.split("\n");
    expect(lines.slice(0, 10)).toEqual([
      "Package: pvemigrate-dns",
      "Version: 1.2.3",
      "Architecture: all",
      "Maintainer: A B <a@b.example>",
      "Installed-Size: 42",
      "Depends: nodejs (>= 20.12)",
      "Recommends: nftables",
      "Suggests: haproxy",
      "Section: admin",
      "Priority: optional",
    ]);
    expect(lines[10]).toMatch(/^Description: \S/);
    expect(lines[10]!.length - "Description: ".length).toBeLessThan(80);
    const long = lines.slice(11, -1);
    expect(long.length).toBeGreaterThan(2);
    for (const l of long) expect(l).toMatch(/^ \S/);
    expect(text.endsWith("\n")).toBe(true);
  });

  it("changelog: dpkg's format with an RFC 2822 date in UTC", () => {
    expect(changelogDate(0)).toBe("Thu, 01 Jan 1970 00:00:00 +0000");
    expect(changelogDate(1_700_000_000)).toBe("Tue, 14 Nov 2023 22:13:20 +0000");
    const text = renderChangelog("1.2.3", "A B <a@b.example>", 1_700_000_000);
    expect(text.split("\n")[0]).toBe("pvemigrate-dns (1.2.3) unstable; urgency=medium");
    expect(text).toContain("\n -- A B <a@b.example>  Tue, 14 Nov 2023 22:13:20 +0000\n");
  });

  it("md5sums: sorted by path, no leading slash, two spaces", () => {
    const sums = new Map([
      ["/usr/share/b", "b".repeat(32)],
      ["/etc/a", "a".repeat(32)],
    ]);
    expect(renderMd5sums(sums)).toBe(`${"a".repeat(32)}  etc/a\n${"b".repeat(32)}  usr/share/b\n`);
  });

  it("Installed-Size counts each file rounded up to KiB and one per directory", () => {
    expect(installedSizeKiB([1, 1024, 1025, 0], 3)).toBe(1 + 1 + 2 + 0 + 3);
  });

  it("only /etc files are conffiles", () => {
    expect(CONFFILES).toEqual(["/etc/logrotate.d/pvemigrate-dns"]);
  });
});
