import { spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { type SimCluster, startSimCluster } from "../../lib/sim/cluster.ts";
import { openLocalJournal } from "../../lib/state/local-journal.ts";
import { missing } from "../support/requirements.ts";

// The hookscript bundle's fast path (issue 16, floor 1): Proxmox waits for
// every phase (pve-guest-common GuestHelpers.pm exec_hookscript ->
// run_command, with no timeout), so the small bundle reads the config from the
// cache, records the journal and hands off, loading no module an empty
// CommonJS script does not: it is CommonJS (no ESM loader), reads and writes
// synchronously (no fs/promises, no thread pool), and post-start/post-stop
// hand off by writing one line into the FIFO of pvemigrate-dns-hook.socket
// (ListenFIFO=; no node:net, no second Node start). systemd's part is played
// here as systemd plays it: it holds the FIFO open for reading and writing,
// and once it holds something starts the service with it as fd 3,
// LISTEN_FDS=1 and LISTEN_PID=<the service's pid> (sd_listen_fds(3)).

const root = join(import.meta.dirname, "..", "..");
/** The built-in modules a process loaded, as `NativeModule <id>` lines of process.moduleLoadList. */
const PROBE = `process.on("exit", () => require("node:fs").writeFileSync(process.env.PROBE_OUT, process.moduleLoadList.filter((m) => m.startsWith("NativeModule ")).map((m) => m.slice(13)).join("\\n")));\n`;

describe.skipIf(missing({ root: true, bins: ["mkfifo"] }))("hookscript fast path", () => {
  let dir: string;
  let sim: SimCluster;
  let hook: string;
  let cli: string;
  let env: NodeJS.ProcessEnv;
  /** Our end of the FIFO, held open for reading and writing as systemd holds it. */
  let fifo: number;
  const fifoPath = () => join(dir, "run", "hook.fifo");
  const probe = () => join(dir, "builtins.txt");

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "pvemigrate-fast-"));
    const build = spawnSync(process.execPath, [join(root, "scripts", "build.mjs"), join(dir, "dist")], {
      encoding: "utf8",
    });
    expect(build.status, build.stderr).toBe(0);
    // As installed: the name guests use is a link to the CommonJS copy (packaging/install.sh).
    mkdirSync(join(dir, "snippets"));
    symlinkSync(join(dir, "dist", "hookscript.cjs"), join(dir, "snippets", "pvemigrate-dns.mjs"));
    hook = join(dir, "snippets", "pvemigrate-dns.mjs");
    cli = join(dir, "dist", "pvemigrate-dns.mjs");
    sim = await startSimCluster({ nodes: ["pve1"], vms: [{ vmid: 101, node: "pve1" }] });
    writeFileSync(join(dir, "token"), `${sim.tokenSecret}\n`, { mode: 0o600 });
    writeFileSync(join(dir, "tsig"), `${Buffer.alloc(32, 7).toString("base64")}\n`, { mode: 0o600 });
    writeFileSync(
      join(dir, "c.yaml"),
      stringify({
        proxmox: { endpoints: [sim.url], tokenId: sim.tokenId, tokenSecretFile: "token" },
        nodes: { pve1: { publicIPv4: "203.0.113.10", privateIP: "10.99.0.1", publicInterface: "pub0" } },
        dns: { zone: "example.org", masters: ["127.0.0.1:53"], tsig: { name: "k", secretFile: "tsig" } },
        nat: { backend: "none" },
        proxy: { backend: "none" },
        stateDir: join(dir, "state"),
        pveRoot: join(dir, "pve"),
        vms: { 101: { ip: "10.10.1.101", dns: ["mail.example.org"] } },
      }),
    );
    // The probe (a CommonJS preload: an ES one would load the ESM loader itself).
    writeFileSync(join(dir, "probe.cjs"), PROBE);
    writeFileSync(join(dir, "empty.cjs"), "");
    env = {
      ...process.env,
      PVEMIGRATE_DNS_CONFIG: join(dir, "c.yaml"),
      PVEMIGRATE_DNS_NODE: "pve1",
      PVEMIGRATE_DNS_CACHE_DIR: join(dir, "cache"),
      PVEMIGRATE_DNS_HOOK_FIFO: fifoPath(),
      PVEMIGRATE_DNS_CLI: cli,
      PVEMIGRATE_DNS_CODE_CACHE_DIR: join(dir, "v8"),
      PVE_MIGRATED_FROM: "",
    };
    // systemd creates the FIFO (and its directory, DirectoryMode=) and holds it open.
    mkdirSync(join(dir, "run"), { mode: 0o700 });
    expect(spawnSync("mkfifo", ["-m", "600", fifoPath()]).status).toBe(0);
    fifo = openSync(fifoPath(), constants.O_RDWR | constants.O_NONBLOCK);
  }, 120_000);
  afterAll(async () => {
    if (fifo !== undefined) closeSync(fifo);
    await sim?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `node <the .mjs link> <vmid> <phase>` (what its #! line makes of Proxmox's `<script> <vmid> <phase>`). */
  const runHook = (args: string[], extra: NodeJS.ProcessEnv = {}, probed = false) =>
    spawnSync(process.execPath, [...(probed ? ["-r", join(dir, "probe.cjs")] : []), hook, ...args], {
      env: { ...env, ...extra, PROBE_OUT: probe() },
      encoding: "utf8",
    });
  const loaded = () => readFileSync(probe(), "utf8").split("\n");
  /** The wake-up lines waiting in the FIFO, taken out. */
  const wakeUps = (): string[] => {
    const buf = Buffer.alloc(65536);
    let text = "";
    for (;;) {
      let n = 0;
      try {
        n = readSync(fifo, buf);
      } catch {
        break; // EAGAIN: empty
      }
      if (n === 0) break;
      text += buf.subarray(0, n).toString();
    }
    return text.split("\n").filter(Boolean);
  };

  it("the built hookscript holds no schema library, YAML parser or HTTP/TLS client", () => {
    const text = readFileSync(hook, "utf8");
    // Markers of each: zod's error class, yaml's node symbols, the Proxmox client, the DNS wire code.
    for (const marker of ["ZodError", "yaml.document", "proxmox-api", "dns-packet", "createSocket"])
      expect(text, marker).not.toContain(marker);
    expect(text.length).toBeLessThan(120_000);
    // Lazy built-ins as one wrapper per imported function: no getters copied at start-up.
    expect(text).not.toContain("__toESM");
  });

  it("the built hookscript is CommonJS: no import statement, nothing for Node's ESM loader", () => {
    const text = readFileSync(join(dir, "dist", "hookscript.cjs"), "utf8");
    expect(text.startsWith("#!/usr/bin/env node\n")).toBe(true);
    expect(text).not.toMatch(/(?:^|[;}\n])\s*import\s*(?:[\w$*{][^;"'`]*?from\s*)?["'][^"']+["']/);
    expect(text).not.toContain("import.meta");
  });

  it("after one full load fills the cache, every phase, run through the .mjs name guests use, loads no built-in module an empty CommonJS script does not but node:vm", () => {
    // The first run misses the cache and hands the phase to the CLI bundle, which fills it.
    expect(runHook(["101", "pre-start"]).status).toBe(0);
    const empty = spawnSync(process.execPath, ["-r", join(dir, "probe.cjs"), join(dir, "empty.cjs")], {
      env: { ...env, PROBE_OUT: probe() },
    });
    expect(empty.status).toBe(0);
    const baseline = new Set(loaded());
    // Not in an empty script's list, so their absence below means something.
    for (const m of ["internal/modules/esm/loader", "fs/promises", "net", "stream", "child_process"])
      expect(baseline.has(m), m).toBe(false);
    wakeUps();
    for (const phase of ["pre-start", "post-start", "pre-stop", "post-stop"]) {
      const r = runHook(["101", phase], {}, true);
      expect(r.status, r.stderr).toBe(0);
      // node:vm: the loader compiles the body with its V8 code cache (hooks/loader.ts).
      expect(
        loaded().filter((m) => !baseline.has(m)),
        phase,
      ).toEqual(["vm"]);
    }
    // post-start and post-stop each left one wake-up, after their journal item.
    expect(wakeUps()).toEqual(["101 post-start", "101 post-stop"]);
  });

  it("post-start keeps the source pre-start recorded for it (read under the journal's lock), and the item is on disk before the wake-up", () => {
    expect(runHook(["101", "pre-start"], { PVE_MIGRATED_FROM: "pve2" }).status).toBe(0);
    const r = runHook(["101", "post-start"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("VM 101 post-start (migrating from pve2): switch recorded");
    expect(wakeUps()).toEqual(["101 post-start"]);
    const item = JSON.parse(
      readFileSync(join(dir, "state", "journal", "hook%3Avm%3A101%3Apost-start.json"), "utf8"),
    ) as { payload: unknown };
    expect(item.payload).toEqual({ vmid: 101, phase: "post-start", migratedFrom: "pve2" });
    // The lock was released; no temp file is left behind.
    expect(readdirSync(join(dir, "state", "locks"))).toEqual([]);
    expect(readdirSync(join(dir, "state", "journal")).filter((f) => f.startsWith("."))).toEqual([]);
  });

  it("the hook service, handed the FIFO as systemd's ListenFIFO= does, finishes the journaled work of the lines waiting in it, then exits idle; no detached worker", async () => {
    // VM 150 is in no config: the worker asks the API for a Notes block, finds none, and is done.
    const r = runHook(["150", "post-stop"]);
    expect(r.status, r.stderr).toBe(0);
    // Started once the FIFO holds something, as systemd does; the line waits in it meanwhile.
    const service = spawn(
      "/bin/sh",
      [
        "-c",
        'LISTEN_PID=$$; LISTEN_FDS=1; export LISTEN_PID LISTEN_FDS; exec "$@"',
        "sh",
        process.execPath,
        cli,
        "hook-service",
      ],
      {
        env: {
          // Like a unit's Environment=: nothing else of ours.
          PATH: process.env.PATH,
          PVEMIGRATE_DNS_CONFIG: env.PVEMIGRATE_DNS_CONFIG,
          PVEMIGRATE_DNS_NODE: "pve1",
          PVEMIGRATE_DNS_CACHE_DIR: env.PVEMIGRATE_DNS_CACHE_DIR,
          PVEMIGRATE_DNS_SERVICE_IDLE_MS: "300",
        },
        stdio: ["ignore", "pipe", "pipe", fifo],
      },
    );
    let log = "";
    service.stderr?.on("data", (d: Buffer) => {
      log += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => service.on("close", resolve));
    const late = new Promise<string>((res) => setTimeout(() => res("still running"), 30_000));
    expect(await Promise.race([exited, late]), `the service's log:\n${log}`).toBe(0);
    expect(log).toContain("VM 150: not in the config (file or Notes); nothing to do");
    expect(
      (await openLocalJournal(join(dir, "state")).list()).filter((i) => i.id === "hook:vm:150:post-stop"),
    ).toEqual([]);
    expect(existsSync(join(dir, "state", "worker.log"))).toBe(false);
    expect(wakeUps()).toEqual([]);
  }, 60_000);

  it("the service refuses an fd that is not a FIFO, in one line", () => {
    const r = spawnSync(
      "/bin/sh",
      [
        "-c",
        'LISTEN_PID=$$; LISTEN_FDS=1; export LISTEN_PID LISTEN_FDS; exec "$@" 3</dev/null',
        "sh",
        process.execPath,
        cli,
        "hook-service",
      ],
      { env: { PATH: process.env.PATH }, encoding: "utf8" },
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("fd 3 is not a FIFO");
  });

  for (const [what, setUp] of [
    ["no FIFO at all (the unit never installed)", (path: string) => path],
    [
      "a FIFO nobody reads (the unit stopped: open fails with ENXIO)",
      (path: string) => {
        expect(spawnSync("mkfifo", [path]).status).toBe(0);
        return path;
      },
    ],
    [
      "a regular file at the FIFO's path",
      (path: string) => {
        writeFileSync(path, "");
        return path;
      },
    ],
  ] as const) {
    it(`with ${what}, post-stop falls back to a detached worker (the CLI) that does the same work`, async () => {
      const vmid = 151 + Math.floor(Math.random() * 800);
      const path = setUp(join(dir, `absent-${vmid}`));
      // worker.log even on a host with a journal (lib/log/worker-output.ts journalAvailable).
      const r = runHook([String(vmid), "post-stop"], {
        PVEMIGRATE_DNS_HOOK_FIFO: path,
        PVEMIGRATE_DNS_WORKER_LOG: "file",
      });
      expect(r.status, r.stderr).toBe(0);
      const logFile = join(dir, "state", "worker.log");
      const done = `VM ${vmid}: not in the config (file or Notes); nothing to do`;
      for (let i = 0; i < 300; i++) {
        if (existsSync(logFile) && readFileSync(logFile, "utf8").includes(done)) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      expect(readFileSync(logFile, "utf8")).toContain(done);
      if (what.startsWith("a regular")) expect(readFileSync(path, "utf8")).toBe("");
    }, 60_000);
  }
});
