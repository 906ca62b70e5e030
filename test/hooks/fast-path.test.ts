import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
// cache, records the journal and hands off, with nothing else loaded; and
// post-start/post-stop hand off to the socket-activated hook service with one
// connect, no second Node start. The service is started here by systemd's own
// `systemd-socket-activate`, which listens on the socket and, on the first
// connection, execs the service with that listening socket as fd 3 and
// LISTEN_FDS=1, LISTEN_PID=<its pid>: what systemd does for
// pvemigrate-dns-hook.socket (Accept=no). Unlike systemd it does not listen
// again after the service exits; the test needs only one activation.

const root = join(import.meta.dirname, "..", "..");
const HEAVY = ["http", "https", "tls", "dgram", "http2", "zlib", "crypto"];

describe.skipIf(missing({ root: true, bins: ["systemd-socket-activate"] }))("hookscript fast path", () => {
  let dir: string;
  let sim: SimCluster;
  let hook: string;
  let cli: string;
  let env: NodeJS.ProcessEnv;
  const probe = () => join(dir, "builtins.txt");

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "pvemigrate-fast-"));
    const build = spawnSync(process.execPath, [join(root, "scripts", "build.mjs"), join(dir, "dist")], {
      encoding: "utf8",
    });
    expect(build.status, build.stderr).toBe(0);
    hook = join(dir, "dist", "hookscript.mjs");
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
    // The probe: which built-in modules the process loaded, written at exit.
    writeFileSync(
      join(dir, "probe.mjs"),
      `import { writeFileSync } from "node:fs";\nprocess.on("exit", () => writeFileSync(${JSON.stringify(probe())}, process.moduleLoadList.filter((m) => m.startsWith("NativeModule ")).map((m) => m.slice(13)).join("\\n")));\n`,
    );
    env = {
      ...process.env,
      PVEMIGRATE_DNS_CONFIG: join(dir, "c.yaml"),
      PVEMIGRATE_DNS_NODE: "pve1",
      PVEMIGRATE_DNS_CACHE_DIR: join(dir, "cache"),
      PVEMIGRATE_DNS_HOOK_SOCKET: join(dir, "run", "hook.sock"),
    };
  }, 120_000);
  afterAll(async () => {
    await sim?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const runHook = (args: string[], extra: NodeJS.ProcessEnv = {}, probed = false) =>
    spawnSync(process.execPath, [...(probed ? ["--import", join(dir, "probe.mjs")] : []), hook, ...args], {
      env: { ...env, ...extra },
      encoding: "utf8",
    });
  const loaded = () => readFileSync(probe(), "utf8").split("\n");

  it("the built hookscript holds no schema library, YAML parser or HTTP/TLS client", () => {
    const text = readFileSync(hook, "utf8");
    // Markers of each: zod's error class, yaml's node symbols, the Proxmox client, the DNS wire code.
    for (const marker of ["ZodError", "yaml.document", "proxmox-api", "dns-packet", "createSocket"])
      expect(text, marker).not.toContain(marker);
    expect(text.length).toBeLessThan(120_000);
  });

  it("after one full load fills the cache, pre-start and pre-stop load no heavy built-in and hand nothing to the CLI", () => {
    // The first run misses the cache and hands the phase to the CLI bundle, which fills it.
    expect(runHook(["101", "pre-start"]).status).toBe(0);
    for (const phase of ["pre-start", "pre-stop"]) {
      const r = runHook(["101", phase], { PVEMIGRATE_DNS_CLI: "/nonexistent" }, true);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toBe("");
      const mods = loaded();
      for (const m of [...HEAVY, "net", "child_process"])
        expect(mods, `${phase} loaded ${m}`).not.toContain(m);
    }
  });

  it("post-stop hands off through the socket: systemd-socket-activate starts `hook-service`, which finishes the journaled work, no detached worker", async () => {
    // systemd creates the socket's directory (DirectoryMode=); systemd-socket-activate does not.
    mkdirSync(join(dir, "run"), { mode: 0o700 });
    const service = spawn(
      "systemd-socket-activate",
      [
        "-l",
        join(dir, "run", "hook.sock"),
        // Like a unit's Environment=: systemd-socket-activate passes on only what -E names.
        ...["PVEMIGRATE_DNS_CONFIG", "PVEMIGRATE_DNS_NODE", "PVEMIGRATE_DNS_CACHE_DIR"].flatMap((k) => [
          "-E",
          `${k}=${env[k]}`,
        ]),
        "-E",
        "PVEMIGRATE_DNS_SERVICE_IDLE_MS=300",
        process.execPath,
        cli,
        "hook-service",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let log = "";
    service.stderr.on("data", (d: Buffer) => {
      log += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => service.on("close", resolve));
    // systemd-socket-activate creates the socket before it waits for a connection.
    for (let i = 0; i < 100 && !existsSync(join(dir, "run", "hook.sock")); i++)
      await new Promise((r) => setTimeout(r, 50));
    // VM 150 is in no config: the worker asks the API for a Notes block, finds none, and is done.
    const r = runHook(["150", "post-stop"], {}, true);
    expect(r.status, r.stderr).toBe(0);
    const mods = loaded();
    expect(mods).toContain("net");
    for (const m of [...HEAVY, "child_process"]) expect(mods, `post-stop loaded ${m}`).not.toContain(m);
    // The service did the worker's job and then, idle, exited on its own.
    const late = new Promise<string>((res) => setTimeout(() => res("still running"), 30_000));
    expect(await Promise.race([exited, late]), `the service's log:\n${log}`).toBe(0);
    expect(log).toContain("VM 150: not in the config (file or Notes); nothing to do");
    expect(await openLocalJournal(join(dir, "state")).list()).toEqual([]);
    expect(existsSync(join(dir, "state", "worker.log"))).toBe(false);
  }, 60_000);

  it("without the socket, post-stop falls back to a detached worker (the CLI) that does the same work", async () => {
    // worker.log even on a host with a journal (lib/log/worker-output.ts journalAvailable).
    const r = runHook(["151", "post-stop"], {
      PVEMIGRATE_DNS_HOOK_SOCKET: join(dir, "absent.sock"),
      PVEMIGRATE_DNS_WORKER_LOG: "file",
    });
    expect(r.status, r.stderr).toBe(0);
    const logFile = join(dir, "state", "worker.log");
    for (let i = 0; i < 300; i++) {
      if (existsSync(logFile) && readFileSync(logFile, "utf8").includes("VM 151: not in the config")) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(readFileSync(logFile, "utf8")).toContain(
      "VM 151: not in the config (file or Notes); nothing to do",
    );
  }, 60_000);
});
