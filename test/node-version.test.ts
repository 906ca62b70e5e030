import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIN_NODE, nodeVersionProblem } from "../lib/node-version.ts";

// The Node.js version gate at the top of both bundles: the pure comparison,
// and the built bundles run with an old version faked in, where each must
// stop in one line before any other module loads a built-in (a hookscript
// that crashes at pre-start instead would abort the VM start).

describe("nodeVersionProblem (pure)", () => {
  it.each([
    ["18.19.0", undefined],
    ["18.20.4", undefined],
    ["19.0.0", undefined],
    ["20.19.2", undefined],
    ["22.0.0", undefined],
    ["v18.19.0", undefined],
    ["not a version", undefined],
    ["18.18.2", "Node.js >= 18.19 required, this is 18.18.2"],
    ["18.13.0", "Node.js >= 18.19 required, this is 18.13.0"],
    ["16.20.2", "Node.js >= 18.19 required, this is 16.20.2"],
    ["12.22.12", "Node.js >= 18.19 required, this is 12.22.12"],
  ])("%s -> %s", (version, expected) => {
    expect(nodeVersionProblem(version)).toBe(expected);
  });

  it("compares minor and patch numerically, and names a non-zero patch", () => {
    expect(nodeVersionProblem("18.9.0", [18, 10, 0])).toBe("Node.js >= 18.10 required, this is 18.9.0");
    expect(nodeVersionProblem("18.10.0", [18, 9, 0])).toBeUndefined();
    expect(nodeVersionProblem("18.19.0", [18, 19, 1])).toBe("Node.js >= 18.19.1 required, this is 18.19.0");
    expect(nodeVersionProblem("18.19.1", [18, 19, 1])).toBeUndefined();
  });

  it("the minimum is what package.json's engines promises and packaging/install.sh checks", () => {
    const root = join(import.meta.dirname, "..");
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    expect(pkg.engines.node).toBe(`>=${MIN_NODE.join(".")}`);
    const install = readFileSync(join(root, "packaging", "install.sh"), "utf8");
    const [major, minor] = MIN_NODE;
    expect(install).toContain(
      `[ "$major" -lt ${major} ] || { [ "$major" -eq ${major} ] && [ "$minor" -lt ${minor} ]; }`,
    );
    expect(install).toContain(`pvemigrate-dns needs >= ${major}.${minor} `);
  });
});

describe("the bundles on a Node.js older than the minimum", () => {
  let dir: string;
  let preload: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "pvemigrate-node-version-"));
    const r = spawnSync(process.execPath, [join(import.meta.dirname, "..", "scripts", "build.mjs"), dir], {
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    // Runs before the bundle: reports Node 16.20.2, and names any built-in the
    // bundle loads through require() (all of them: scripts/builtins-via-require.mjs)
    // before the gate stops it.
    preload = join(dir, "old-node.cjs");
    writeFileSync(
      preload,
      [
        'Object.defineProperty(process, "versions", { value: { ...process.versions, node: "16.20.2" } });',
        'const Module = require("node:module");',
        "const real = Module.prototype.require;",
        "Module.prototype.require = function (id) {",
        "  process.stderr.write('loaded ' + id + ' before the version gate\\n');",
        "  return real.apply(this, arguments);",
        "};",
        "",
      ].join("\n"),
    );
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const runOld = (bundle: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, ["--require", preload, join(dir, bundle), ...args], {
      encoding: "utf8",
      env: { ...process.env, ...env },
    });

  it("the CLI says which Node it needs in one line, exits 1 and reads no config", () => {
    const r = runOld("pvemigrate-dns.mjs", ["config", "check", "--config", join(dir, "absent.yaml")]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("pvemigrate-dns: Node.js >= 18.19 required, this is 16.20.2\n");
  });

  it("the hookscript logs one line and exits 0 in every phase (a non-zero pre-start would abort the start)", () => {
    for (const phase of ["pre-start", "post-start", "pre-stop", "post-stop"]) {
      const r = runOld("hookscript.cjs", ["101", phase], {
        PVEMIGRATE_DNS_CONFIG: join(dir, "absent.yaml"),
        PVEMIGRATE_DNS_NODE: "pve1",
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(
        "pvemigrate-dns: hook: Node.js >= 18.19 required, this is 16.20.2; doing nothing\n",
      );
    }
  });

  it("the bundles link on any Node: no static import but node:module's createRequire", () => {
    // A static `import { statfs } from "node:fs/promises"` fails to link on Node < 18.15,
    // before the gate's first line runs; only the banner's import may stay static.
    // The hookscript and the CLI's launcher are CommonJS (scripts/build.mjs): no import at all,
    // nothing to link; the full CLI the launcher imports is an ES module.
    for (const [bundle, allowed] of [
      ["pvemigrate-dns-full.mjs", ["node:module"]],
      ["pvemigrate-dns.mjs", []],
      ["hookscript.cjs", []],
    ] as const) {
      const text = readFileSync(join(dir, bundle), "utf8");
      const statics = [
        ...text.matchAll(/(?:^|[;}\n])\s*import\s*(?:[\w$*{][^;"'`]*?from\s*)?["']([^"']+)["']/g),
      ].map((m) => m[1]);
      expect(statics, bundle).toEqual(allowed);
    }
  });

  it("the same bundles run on this Node (the gate lets a current version through)", () => {
    const r = spawnSync(process.execPath, [join(dir, "pvemigrate-dns.mjs"), "--version"], {
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
