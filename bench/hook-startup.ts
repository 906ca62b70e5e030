// Benchmark (not a test): how long a VM start waits for our hookscript.
// Proxmox runs `<script> <vmid> pre-start` and waits, with no timeout, while
// the start (or a live migration) stands still. Measured as whole processes,
// the way Proxmox runs it, against a baseline measured in the same run: a
// bare `node -e 0`, the floor any Node.js hook pays.
//   - bad args:  bundle loaded, arguments rejected (module load cost only)
//   - pre-start: config + secrets loaded, nothing else (the default)
//   - strict:    pre-start plus one cluster snapshot from the (simulated) API
// Run: node --import tsx bench/hook-startup.ts   (BENCH_ITERATIONS=20 by default)
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { startSimCluster } from "../lib/sim/cluster.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 20);

export interface HookStartupResult {
  iterations: number;
  /** Median wall time in ms, per case; `baseline` is `node -e 0`. */
  medianMs: Record<"baseline" | "badArgs" | "preStart" | "strict", number>;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** Wall time until the process exited and closed its output, as Proxmox waits for it. */
function timedRun(argv: string[], env: NodeJS.ProcessEnv, expectCode: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = performance.now() - t0;
      if (code !== expectCode)
        reject(new Error(`${argv.join(" ")}: exit ${code}, expected ${expectCode}: ${stderr}`));
      else resolve(ms);
    });
  });
}

/** Runs the whole process (async: the simulated API answers from this process). */
async function build(outDir: string): Promise<void> {
  await timedRun([process.execPath, join(root, "scripts", "build.mjs"), outDir], process.env, 0);
}

export async function benchHookStartup(iterations = ITERATIONS): Promise<HookStartupResult> {
  const dir = await mkdtemp(join(tmpdir(), `pvemigrate-bench-hook-${process.pid}-`));
  const sim = await startSimCluster({
    nodes: ["pve1", "pve2"],
    vms: [
      { vmid: 101, node: "pve2", status: "stopped" },
      { vmid: 102, node: "pve1" },
    ],
  });
  try {
    await build(join(dir, "dist"));
    const hook = join(dir, "dist", "hookscript.mjs");
    await writeFile(join(dir, "token"), `${sim.tokenSecret}\n`, { mode: 0o600 });
    await writeFile(join(dir, "tsig"), `${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
    const doc = (strict: boolean) => ({
      proxmox: { endpoints: [sim.url], tokenId: sim.tokenId, tokenSecretFile: "token" },
      nodes: {
        pve1: { publicIPv4: "203.0.113.10", privateIP: "10.99.0.1", publicInterface: "pub0" },
        pve2: { publicIPv4: "203.0.113.20", privateIP: "10.99.0.2", publicInterface: "pub0" },
      },
      // Never contacted by pre-start; a loopback address all the same.
      dns: { zone: "example.org", masters: ["127.0.0.1:53"], tsig: { name: "k", secretFile: "tsig" } },
      nat: { backend: "none" },
      proxy: { backend: "none" },
      stateDir: join(dir, "state", "{node}"),
      pveRoot: join(dir, "pve"),
      strict,
      vms: {
        101: { ip: "10.10.1.101", dns: ["mail.example.org"], forward: ["tcp/2222:22", "udp/51820"] },
        102: { ip: "10.10.2.102", dns: ["shop.example.org"], forward: ["tcp/2223:22"] },
      },
    });
    await writeFile(join(dir, "plain.yaml"), stringify(doc(false)));
    await writeFile(join(dir, "strict.yaml"), stringify(doc(true)));
    const env = (config: string): NodeJS.ProcessEnv => ({
      ...process.env,
      PVEMIGRATE_DNS_CONFIG: join(dir, config),
      PVEMIGRATE_DNS_NODE: "pve1",
      PVE_MIGRATED_FROM: "",
    });

    const cases = {
      baseline: () => timedRun([process.execPath, "-e", "0"], process.env, 0),
      badArgs: () => timedRun([process.execPath, hook, "x", "pre-start"], env("plain.yaml"), 1),
      preStart: () => timedRun([process.execPath, hook, "101", "pre-start"], env("plain.yaml"), 0),
      strict: () => timedRun([process.execPath, hook, "101", "pre-start"], env("strict.yaml"), 0),
    };
    const samples: Record<keyof typeof cases, number[]> = {
      baseline: [],
      badArgs: [],
      preStart: [],
      strict: [],
    };
    // Warm-up (page cache, the sim's JIT), then interleaved rounds so load drifts hit every case alike.
    for (const run of Object.values(cases)) await run();
    for (let i = 0; i < iterations; i++) {
      for (const [name, run] of Object.entries(cases)) samples[name as keyof typeof cases].push(await run());
    }
    return {
      iterations,
      medianMs: {
        baseline: median(samples.baseline),
        badArgs: median(samples.badArgs),
        preStart: median(samples.preStart),
        strict: median(samples.strict),
      },
    };
  } finally {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export function printHookStartup(r: HookStartupResult): void {
  const m = r.medianMs;
  const line = (label: string, ms: number) =>
    console.log(
      `  ${label.padEnd(34)} ${ms.toFixed(1).padStart(7)} ms  ${(ms / m.baseline).toFixed(2)}x baseline`,
    );
  console.log(`hookscript start-up, median of ${r.iterations} runs (whole processes, until output closed)`);
  line("baseline: node -e 0", m.baseline);
  line("hookscript, bad args (load only)", m.badArgs);
  line("hookscript 101 pre-start", m.preStart);
  line("hookscript 101 pre-start, strict", m.strict);
  console.log(
    `  over baseline: load ${(m.badArgs - m.baseline).toFixed(1)} ms, config ${(m.preStart - m.badArgs).toFixed(1)} ms, strict snapshot ${(m.strict - m.preStart).toFixed(1)} ms`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printHookStartup(await benchHookStartup());
}
