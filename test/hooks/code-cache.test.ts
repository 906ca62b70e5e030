import { spawnSync } from "node:child_process";
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { missing } from "../support/requirements.ts";

// The hookscript's V8 code cache (hooks/code-cache.ts, issue 16 floor 1): the
// installers' `<hookscript> --warm-code-cache` runs every phase in a sandbox
// and stores the compiled body; a phase then deserializes the body instead of
// parsing and compiling it. Seen from V8 itself: with --log-function-events, a
// script compiled from a cache is logged as deserialized (both runs take the
// same flags: V8 rejects a cache made under other flags).

const root = join(import.meta.dirname, "..", "..");

describe.skipIf(missing({ root: true }))("hookscript code cache", () => {
  let dir: string;
  let hook: string;
  let env: NodeJS.ProcessEnv;
  const v8dir = () => join(dir, "v8");
  const log = () => join(dir, "v8.log");

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "pvemigrate-code-cache-"));
    const build = spawnSync(process.execPath, [join(root, "scripts", "build.mjs"), join(dir, "dist")], {
      encoding: "utf8",
    });
    expect(build.status, build.stderr).toBe(0);
    hook = join(dir, "dist", "hookscript.cjs");
    writeFileSync(join(dir, "token"), "x".repeat(36), { mode: 0o600 });
    writeFileSync(join(dir, "tsig"), `${Buffer.alloc(32, 7).toString("base64")}\n`, { mode: 0o600 });
    writeFileSync(
      join(dir, "c.yaml"),
      stringify({
        // Never contacted: pre-start and pre-stop of a non-strict config ask no API.
        proxmox: { endpoints: ["https://127.0.0.1:1"], tokenId: "root@pam!t", tokenSecretFile: "token" },
        nodes: { pve1: { publicIPv4: "203.0.113.10", privateIP: "10.99.0.1", publicInterface: "pub0" } },
        dns: { zone: "example.org", masters: ["127.0.0.1:53"], tsig: { name: "k", secretFile: "tsig" } },
        nat: { backend: "none" },
        proxy: { backend: "none" },
        stateDir: join(dir, "state"),
        pveRoot: join(dir, "pve"),
        vms: { 101: { ip: "10.10.1.101", dns: ["mail.example.org"] } },
      }),
    );
    env = {
      PATH: process.env.PATH,
      PVEMIGRATE_DNS_CONFIG: join(dir, "c.yaml"),
      PVEMIGRATE_DNS_NODE: "pve1",
      PVEMIGRATE_DNS_CACHE_DIR: join(dir, "cache"),
      PVEMIGRATE_DNS_CODE_CACHE_DIR: v8dir(),
      PVEMIGRATE_DNS_HOOK_FIFO: "none",
    };
  }, 120_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the hookscript under the V8 log; whether V8 deserialized the hookscript's body. */
  const run = (args: string[]) => {
    const r = spawnSync(
      process.execPath,
      ["--log-function-events", `--logfile=${log()}`, "--no-logfile-per-isolate", hook, ...args],
      { env, encoding: "utf8" },
    );
    const lines = readFileSync(log(), "utf8").split("\n");
    const ids = new Set(
      lines.filter((l) => l.startsWith(`script-details,`) && l.includes(hook)).map((l) => l.split(",")[1]),
    );
    const fromCache = lines.some((l) => l.startsWith("function,deserialize,") && ids.has(l.split(",")[2]));
    return { ...r, fromCache };
  };

  it("a phase compiles its body from the cache --warm-code-cache wrote, and not without it", () => {
    // The first run misses the config cache and hands the phase to the CLI bundle, which fills it.
    expect(run(["101", "pre-start"]).status).toBe(0);
    const cold = run(["101", "pre-stop"]);
    expect([cold.status, cold.fromCache]).toEqual([0, false]);

    const warm = run(["--warm-code-cache"]);
    expect(warm.status, warm.stderr).toBe(0);
    const [file, ...others] = readdirSync(v8dir());
    expect(others).toEqual([]);
    expect(file).toMatch(/^hookscript-[0-9a-f]{16}\.v8$/);
    expect(warm.stdout).toContain(join(v8dir(), file!));
    expect(statSync(join(v8dir(), file!)).mode & 0o777).toBe(0o644);
    // The warm-up's sandbox is gone: its state dir was a temp dir of its own.
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith("pvemigrate-dns-warm-"))).toEqual([]);

    for (const phase of ["pre-start", "pre-stop"]) {
      const r = run(["101", phase]);
      expect([r.status, r.fromCache, r.stderr], phase).toEqual([0, true, ""]);
    }
  });

  it("a cache others could have written, another build's, or one damaged or cut short on disk is not used; the phase runs all the same", () => {
    if (readdirSync(v8dir()).length === 0) expect(run(["--warm-code-cache"]).status).toBe(0);
    const file = join(v8dir(), readdirSync(v8dir())[0]!);
    chmodSync(file, 0o666);
    const writable = run(["101", "pre-stop"]);
    expect([writable.status, writable.fromCache]).toEqual([0, false]);
    chmodSync(file, 0o644);
    const other = join(v8dir(), "hookscript-0000000000000000.v8");
    renameSync(file, other);
    const otherBuild = run(["101", "pre-stop"]);
    expect([otherBuild.status, otherBuild.fromCache]).toEqual([0, false]);
    renameSync(other, file);
    // Damaged on disk (bits flipped in the bytecode V8 would deserialize): V8 itself would abort
    // the process (SIGTRAP), so the loader must see it and compile as usual.
    const good = readFileSync(file);
    const bad = Buffer.from(good);
    for (let i = Math.floor(bad.length / 4); i < bad.length / 2; i += 97) bad[i]! ^= 0x5a;
    writeFileSync(file, bad, { mode: 0o644 });
    const damaged = run(["101", "pre-stop"]);
    expect([damaged.status, damaged.fromCache, damaged.stderr]).toEqual([0, false, ""]);
    writeFileSync(file, good.subarray(0, good.length - 1000), { mode: 0o644 });
    const cut = run(["101", "pre-stop"]);
    expect([cut.status, cut.fromCache]).toEqual([0, false]);
    renameSync(file, other);
    // Warming again replaces the other build's file with this one's.
    expect(run(["--warm-code-cache"]).status).toBe(0);
    expect(readdirSync(v8dir())).toEqual([file.split("/").pop()]);
    expect(run(["101", "pre-stop"]).fromCache).toBe(true);
  });
});
