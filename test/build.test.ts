import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The bundles are what a Proxmox node runs: they must work without node_modules.

const root = join(import.meta.dirname, "..");
let out: string;
beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), "pvemigrate-build-"));
  const r = spawnSync(process.execPath, [join(root, "scripts", "build.mjs"), out], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
}, 60_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("single-file bundles", () => {
  it("the CLI bundle is executable and runs from a directory without node_modules", () => {
    const file = join(out, "pvemigrate-dns.mjs");
    expect(statSync(file).mode & 0o111).not.toBe(0);
    expect(readFileSync(file, "utf8").startsWith("#!/usr/bin/env node")).toBe(true);
    const r = spawnSync(
      file,
      ["config", "check", "--config", join(root, "examples", "cluster.yaml"), "--json"],
      {
        cwd: out,
        encoding: "utf8",
      },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).ok).toBe(true);
  });

  it("the hookscript bundle is executable", () => {
    const file = join(out, "hookscript.cjs");
    expect(statSync(file).mode & 0o111).not.toBe(0);
    expect(readFileSync(file, "utf8").startsWith("#!/usr/bin/env node")).toBe(true);
  });

  it("the CLI bundle still words schema errors in English (only zod's English locale is bundled)", () => {
    const broken = join(out, "broken.yaml");
    writeFileSync(
      broken,
      readFileSync(join(root, "examples", "cluster.yaml"), "utf8")
        .replace("ttl: 60", 'ttl: "sixty"')
        .replaceAll("secrets/", `${join(root, "examples", "secrets")}/`),
    );
    const r = spawnSync(join(out, "pvemigrate-dns.mjs"), ["config", "check", "--config", broken], {
      encoding: "utf8",
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe("dns.ttl: Invalid input: expected number, received string");
  });

  it("the build writes the man page and the bash completion, as the CLI bundle prints them", () => {
    const printed = (args: string[]) =>
      spawnSync(join(out, "pvemigrate-dns.mjs"), args, { cwd: out, encoding: "utf8" }).stdout;
    const man = readFileSync(join(out, "pvemigrate-dns.1"), "utf8");
    expect(man).toMatch(/^\.TH PVEMIGRATE\\-DNS 1 /m);
    expect(man).toBe(printed(["man"]));
    const completion = readFileSync(join(out, "pvemigrate-dns.bash-completion"), "utf8");
    expect(completion).toMatch(/^complete -F _pvemigrate_dns pvemigrate-dns$/m);
    expect(completion).toBe(printed(["completion", "bash"]));
  });
});

describe("the hookscript's lazy built-ins (scripts/builtins-via-require.mjs, functions: true)", () => {
  it("keep a wrapper only for each function the code imports, load the built-in at the first call, and copy nothing at start-up", async () => {
    const { build } = await import("esbuild");
    // @ts-expect-error: a plain .mjs build script, without types
    const { builtinsViaRequireExcept } = await import("../scripts/builtins-via-require.mjs");
    const entry = join(out, "lazy-entry.ts");
    writeFileSync(
      entry,
      [
        'import { spawnSync } from "node:child_process";',
        'const loaded = () => process.moduleLoadList.includes("NativeModule child_process");',
        "const before = loaded();",
        'const echoed = spawnSync("echo", ["hi"], { encoding: "utf8" }).stdout.trim();',
        "console.log(JSON.stringify({ before, echoed, after: loaded() }));",
      ].join("\n"),
    );
    const file = join(out, "lazy.cjs");
    await build({
      entryPoints: [entry],
      outfile: file,
      bundle: true,
      platform: "node",
      format: "cjs",
      logLevel: "silent",
      plugins: [builtinsViaRequireExcept(["fs", "path"], { functions: true })],
    });
    const text = readFileSync(file, "utf8");
    // No getter per export copied by esbuild's __toESM; no wrapper for what nobody imports.
    expect(text).not.toContain("__toESM");
    expect(text).toContain("function spawnSync(");
    expect(text).not.toContain("execFile");
    const r = spawnSync(process.execPath, [file], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ before: false, echoed: "hi", after: true });
  });
});
