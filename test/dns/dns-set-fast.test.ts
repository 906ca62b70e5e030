import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DnsDaemon, dig, generateTsigKey, startNamedPrimary } from "../support/named.ts";
import { writeNamedConfig, writeNamedSecrets } from "../support/named-config.ts";
import { missing } from "../support/requirements.ts";

// The CLI's `dns set` fast path (issue 16, floor 2): with the config in the
// cache, dist/pvemigrate-dns.mjs runs `dns set` without the full CLI bundle
// (commander, zod, yaml and the rest: dist/pvemigrate-dns-full.mjs), and says
// and exits exactly as the full CLI does. "fast" runs a copy of the launcher
// alone, without the full bundle next to it: had it needed the full CLI, the
// import would fail. "full" runs the complete build with an empty cache dir
// of its own (a miss: the full CLI loads the config, and fills that dir).
// The launcher is CommonJS (dist/pvemigrate-dns.cjs; pvemigrate-dns.mjs, the
// name everything runs, links to it): Node's ESM loader costs ~6 ms at every
// start, so the tests below also prove it never loads on the fast path.

const root = join(import.meta.dirname, "..", "..");
// (child_process does load: Node's dgram bind() loads cluster, which loads it.)
const HEAVY = ["http", "https", "tls", "http2", "zlib"];

describe.skipIf(missing({ root: true, bins: ["named", "tsig-keygen", "dig"] }))("dns set fast path", () => {
  let dir: string;
  let primary: DnsDaemon;
  let config: string;
  let misses = 0;
  const full = () => join(dir, "dist", "pvemigrate-dns.mjs");
  const fast = () => join(dir, "fast", "pvemigrate-dns.mjs");
  const probe = () => join(dir, "builtins.txt");

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "pvemigrate-dnsfast-"));
    const build = spawnSync(process.execPath, [join(root, "scripts", "build.mjs"), join(dir, "dist")], {
      encoding: "utf8",
    });
    expect(build.status, build.stderr).toBe(0);
    mkdirSync(join(dir, "fast"));
    copyFileSync(join(dir, "dist", "pvemigrate-dns.cjs"), join(dir, "fast", "pvemigrate-dns.cjs"));
    symlinkSync("pvemigrate-dns.cjs", fast());
    const key = await generateTsigKey("fast-key");
    primary = await startNamedPrimary({ zone: "example.org", keys: [key] });
    writeNamedSecrets(dir, key);
    config = writeNamedConfig(join(dir, "c.yaml"), key, {
      ports: [primary.port],
      vms: { 101: { ip: "10.10.1.101", dns: ["managed.example.org"] } },
    });
    writeFileSync(
      join(dir, "probe.mjs"),
      `import { writeFileSync } from "node:fs";\nprocess.on("exit", () => writeFileSync(${JSON.stringify(probe())}, process.moduleLoadList.filter((m) => m.startsWith("NativeModule ")).map((m) => m.slice(13)).join("\\n")));\n`,
    );
    // The same as CommonJS (--require): an ES module probe would load the ESM loader itself.
    writeFileSync(
      join(dir, "probe.cjs"),
      `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(probe())}, JSON.stringify({ main: process.mainModule?.filename, modules: process.moduleLoadList })));\n`,
    );
  }, 120_000);
  afterAll(async () => {
    await primary?.stop();
    if (dir && !process.env.KEEP) rmSync(dir, { recursive: true, force: true });
  });

  const cli = (which: "fast" | "full", args: string[], probed: false | "mjs" | "cjs" = false) => {
    const cache = which === "fast" ? join(dir, "cache") : join(dir, `miss-${misses++}`);
    const preload =
      probed === "cjs" ? ["--require", join(dir, "probe.cjs")] : ["--import", join(dir, "probe.mjs")];
    const r = spawnSync(
      process.execPath,
      [...(probed ? preload : []), which === "fast" ? fast() : full(), ...args],
      {
        env: { ...process.env, PVEMIGRATE_DNS_CACHE_DIR: cache, PVEMIGRATE_DNS_CONFIG: config },
        encoding: "utf8",
      },
    );
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it("after one full load fills the cache, dns set runs without the full CLI and loads no HTTP or TLS", () => {
    const text = readFileSync(fast(), "utf8");
    // Markers of commander, zod and yaml: none is in the launcher's bundle at all.
    for (const marker of ["CommanderError", "ZodError", "yaml.document"])
      expect(text, marker).not.toContain(marker);
    const fill = spawnSync(
      process.execPath,
      [full(), "--config", config, "dns", "set", "fill.example.org", "192.0.2.1"],
      {
        env: { ...process.env, PVEMIGRATE_DNS_CACHE_DIR: join(dir, "cache") },
        encoding: "utf8",
      },
    );
    expect(fill.status, fill.stderr).toBe(0);
    const r = cli("fast", ["dns", "set", "fast.example.org", "192.0.2.2", "--expect", "none"], "mjs");
    expect(r, r.stderr).toMatchObject({ code: 0, stderr: "" });
    const mods = readFileSync(probe(), "utf8").split("\n");
    expect(mods).toContain("dgram");
    for (const m of HEAVY) expect(mods, `loaded ${m}`).not.toContain(m);
  });

  it("dns set evaluates neither dns-packet nor p-retry and loads no node:perf_hooks (lib/dns/wire/codec.ts, failover.ts)", () => {
    const text = readFileSync(fast(), "utf8");
    // dns-packet's EDNS option table and p-retry's non-Error check: in no bundle of ours at all.
    for (const marker of ["CLIENT_SUBNET", "Non-error was thrown"])
      expect(text, marker).not.toContain(marker);
    const r = cli("fast", ["dns", "set", "lean.example.org", "192.0.2.3", "--expect", "none"], "mjs");
    expect(r, r.stderr).toMatchObject({ code: 0, stderr: "" });
    const mods = readFileSync(probe(), "utf8").split("\n");
    expect(mods).toContain("crypto");
    expect(mods).not.toContain("perf_hooks");
  });

  it("prints and exits as the full CLI does: a write, a stale --expect, a dry run, JSON, bad input, a managed name", () => {
    // NAME: a name of each side's own (full-N, fast-N), both first set to 192.0.2.3 by the full CLI.
    const cases = [
      ["dns", "set", "NAME", "192.0.2.5", "--ttl", "120"],
      ["dns", "set", "NAME", "192.0.2.4", "--expect", "192.0.2.99"],
      ["dns", "set", "NAME", "192.0.2.4", "--dry-run"],
      ["dns", "set", "NAME", "192.0.2.4", "--expect", "192.0.2.99", "--json"],
      ["dns", "set", "NAME", "::ffff:192.0.2.4"],
      ["dns", "set", "NAME", "192.0.2.4", "--ttl", "soon", "--json"],
      ["dns", "set", "elsewhere.example.net", "192.0.2.4"],
      ["dns", "set", "managed.example.org", "192.0.2.6", "--dry-run"],
    ];
    cases.forEach((args, i) => {
      const name = (side: string) => `${side}-${i}.example.org`;
      const runs = (["full", "fast"] as const).map((side) => {
        expect(cli("full", ["dns", "set", name(side), "192.0.2.3"]).code).toBe(0);
        const r = cli(
          side,
          args.map((a) => (a === "NAME" ? name(side) : a)),
        );
        return {
          ...r,
          stdout: r.stdout.replaceAll(name(side), "NAME"),
          stderr: r.stderr.replaceAll(name(side), "NAME"),
        };
      });
      expect(runs[1], args.join(" ")).toEqual(runs[0]);
    });
    // 16 whole processes (each case through both paths): more than the default 30 s on a busy CI machine.
  }, 120_000);

  it("the shipped launcher runs as CommonJS: pvemigrate-dns.mjs links to the .cjs, and dns set loads no ESM loader, node:dns or node:fs/promises", () => {
    expect(readlinkSync(full())).toBe("pvemigrate-dns.cjs");
    const r = cli("fast", ["dns", "set", "cjs.example.org", "192.0.2.9", "--expect", "none"], "cjs");
    expect(r, r.stderr).toMatchObject({ code: 0, stderr: "" });
    const seen = JSON.parse(readFileSync(probe(), "utf8")) as { main?: string; modules: string[] };
    // process.mainModule is set only when the CommonJS loader runs the main script.
    expect(seen.main).toBe(join(dir, "fast", "pvemigrate-dns.cjs"));
    expect(seen.modules).not.toContain("NativeModule internal/modules/esm/loader");
    // A literal master needs no resolver (lib/dns/transport.ts literalLookup), the files are read
    // synchronously, and node:net comes only with dgram (its bind loads cluster, which loads it).
    expect(seen.modules).not.toContain("NativeModule dns");
    expect(seen.modules).not.toContain("NativeModule fs/promises");
    const beforeDgram = seen.modules.slice(0, seen.modules.indexOf("NativeModule dgram"));
    expect(beforeDgram).not.toContain("NativeModule net");
    // What V8 compiled for the fast path, kept for the next start beside the config cache (bin/code-cache.ts).
    expect(
      readdirSync(join(dir, "cache")).filter((f) => /^code-[0-9a-f]{32}-v[0-9.]+\.bin$/.test(f)),
    ).toHaveLength(1);
  });

  it("hands --help, --version and every other command to the full CLI: the same output and exit code as the full bundle run on its own", () => {
    const bundle = join(dir, "dist", "pvemigrate-dns-full.mjs");
    for (const args of [
      ["--help"],
      ["--version"],
      ["config", "check"],
      ["config", "check", "--config", join(dir, "absent.yaml")],
    ]) {
      const env = {
        ...process.env,
        PVEMIGRATE_DNS_CACHE_DIR: join(dir, "cache"),
        PVEMIGRATE_DNS_CONFIG: config,
      };
      const viaLauncher = spawnSync(process.execPath, [full(), ...args], { env, encoding: "utf8" });
      const alone = spawnSync(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          `const { runCli } = await import(${JSON.stringify(pathToFileURL(bundle).href)}); await runCli(process.argv);`,
          full(),
          ...args,
        ],
        { env, encoding: "utf8" },
      );
      const strip = (t: string) => t.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /gm, "");
      expect(
        { code: viaLauncher.status, stdout: viaLauncher.stdout, stderr: strip(viaLauncher.stderr) },
        args.join(" "),
      ).toEqual({ code: alone.status, stdout: alone.stdout, stderr: strip(alone.stderr) });
      expect(viaLauncher.stdout + viaLauncher.stderr, args.join(" ")).not.toBe("");
    }
  });

  it("writes through the fast path: compare-and-swap against what the name holds", async () => {
    expect(cli("fast", ["dns", "set", "cas.example.org", "192.0.2.7", "--expect", "none"]).code).toBe(0);
    expect(
      cli("fast", ["dns", "set", "cas.example.org", "192.0.2.8", "--expect", "192.0.2.1"]),
    ).toMatchObject({ code: 1 });
    expect(cli("fast", ["dns", "set", "cas.example.org", "192.0.2.8", "--expect", "192.0.2.7"]).code).toBe(0);
    expect(await dig(primary.port, "cas.example.org", "A")).toEqual(["192.0.2.8"]);
  });

  it("hands what it does not take to the full CLI: commander's errors, and options it leaves alone", () => {
    for (const args of [
      ["dns", "set", "x.example.org"],
      ["dns", "--config", config, "set", "opt.example.org", "192.0.2.8", "--dry-run"],
    ]) {
      const viaLauncher = spawnSync(process.execPath, [full(), ...args], {
        env: { ...process.env, PVEMIGRATE_DNS_CACHE_DIR: join(dir, "cache"), PVEMIGRATE_DNS_CONFIG: config },
        encoding: "utf8",
      });
      // The launcher alone cannot run these: they need the full bundle.
      expect(cli("fast", args).stderr).toContain("pvemigrate-dns-full.mjs");
      expect(viaLauncher.stderr).not.toContain("pvemigrate-dns-full.mjs");
      expect(viaLauncher.status).toBe(args.length === 3 ? 1 : 0);
    }
  });
});
