// Benchmark: does a reconcile stay linear in guests? 3 simulated nodes with
// 200, 1,000, 2,000, 5,000 and 10,000 guests (lib/sim/scale.ts: each with a
// static IP, one name, one SNI route, one public port), a real BIND primary
// already holding every name (ours, pointing at the right node), nat/proxy
// backends off for the whole run (their plans are timed on their own, pure).
// Per size, in a child process (bench/reconcile-scale-entry.ts) so its peak
// RSS is the reconcile's own: config load, desired state, one node's plan,
// and a whole steady `reconcile` of pve1. The baseline is measured in the same
// run: the per-guest time at 200 guests; linear growth keeps the ratio ~1x.
//   node --import tsx bench/reconcile-scale.ts          (needs named, tsig-keygen)
//   BENCH_SCALE_SIZES=200,2000 node --import tsx bench/reconcile-scale.ts
// Leaves nothing behind: the config cache goes to the run's temp dir
// (PVEMIGRATE_DNS_CACHE_DIR), never /run; the temp dir, named and the sim end with it.
import { spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { ownershipTxt } from "../lib/dns/ownership.ts";
import { startSimCluster } from "../lib/sim/cluster.ts";
import { SCALE_FIRST_VMID, scaleGuests, scaleVmsYaml } from "../lib/sim/scale.ts";
import { type DnsDaemon, generateTsigKey, startNamedPrimary } from "../test/support/named.ts";
import { missing } from "../test/support/requirements.ts";
import type { ScaleSample } from "./reconcile-scale-entry.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const SIZES = (process.env.BENCH_SCALE_SIZES ?? "200,1000,2000,5000,10000").split(",").map(Number);
const NODES = { pve1: "203.0.113.10", pve2: "203.0.113.20", pve3: "203.0.113.30" } as const;
const ZONE = "example.org";
const OWNER = "pvemigrate-dns";
const TTL = 60;
/** Issue 16's floors for 10,000 guests on 3 nodes. */
const FLOOR_RECONCILE_MS = 2000;
const FLOOR_RSS_MIB = 256;

function runChild(args: string[], env: NodeJS.ProcessEnv): Promise<ScaleSample> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(root, "bench", "reconcile-scale-entry.ts"), ...args],
      { cwd: root, env, stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`bench child exited ${code}`));
      else resolve(JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as ScaleSample);
    });
  });
}

/** The zone as a steady run finds it: every guest's name ours, pointing at its node. */
function zoneRecords(guests: number): string[] {
  const ips = Object.values(NODES);
  return Array.from({ length: guests }, (_, i) => {
    const vmid = SCALE_FIRST_VMID + i;
    return [
      `g${vmid} ${TTL} IN A ${ips[i % ips.length]}`,
      `g${vmid} ${TTL} IN TXT "${ownershipTxt(OWNER, vmid)}"`,
    ];
  }).flat();
}

async function measure(dir: string, dns: DnsDaemon, tsig: { name: string; secret: string }, guests: number) {
  const sizeDir = join(dir, String(guests));
  await mkdir(join(sizeDir, "pve"), { recursive: true });
  const sim = await startSimCluster({
    nodes: Object.keys(NODES),
    vms: scaleGuests(guests, Object.keys(NODES)),
    rrdIntervalMs: 0,
  });
  try {
    await writeFile(join(sizeDir, "token"), `${sim.tokenSecret}\n`);
    await writeFile(join(sizeDir, "tsig"), `${tsig.secret}\n`);
    await chmod(join(sizeDir, "token"), 0o600);
    await chmod(join(sizeDir, "tsig"), 0o600);
    const head = stringify({
      proxmox: {
        endpoints: [sim.url],
        tokenId: sim.tokenId,
        tokenSecretFile: "token",
        requestTimeoutMs: 60_000,
      },
      nodes: Object.fromEntries(
        Object.entries(NODES).map(([name, ip], i) => [
          name,
          { publicIPv4: ip, privateIP: `10.99.0.${i + 1}`, publicInterface: "pub0" },
        ]),
      ),
      dns: {
        zone: ZONE,
        masters: [`127.0.0.1:${dns.port}`],
        tsig: { name: tsig.name, algorithm: "hmac-sha256", secretFile: "tsig" },
        ttl: TTL,
        ownerId: OWNER,
      },
      nat: { backend: "none" },
      proxy: { backend: "none", socket: join(sizeDir, "admin.sock"), mapDir: join(sizeDir, "maps") },
      stateDir: join(sizeDir, "state"),
      pveRoot: join(sizeDir, "pve"),
      remote: { transport: "netns", command: [process.execPath, "/nonexistent"] },
    });
    const file = join(sizeDir, "cluster.yaml");
    await writeFile(file, head + scaleVmsYaml(guests, ZONE));
    const env = { ...process.env, PVEMIGRATE_DNS_CACHE_DIR: join(sizeDir, "cache") };
    return await runChild([file, String(guests)], env);
  } finally {
    await sim.stop();
  }
}

const ms = (x: number | undefined) => (x === undefined ? "-" : `${x.toFixed(0)} ms`);
const ratio = (x: number | undefined, n: number, base: number | undefined, baseN: number) =>
  x === undefined || base === undefined || base === 0 ? "-" : `${(x / n / (base / baseN)).toFixed(2)}x`;

async function main(): Promise<void> {
  const why = missing({ bins: ["named", "tsig-keygen"] });
  if (why) {
    console.log(`reconcile-scale: skipped (${why})`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), `pvemigrate-bench-scale-${process.pid}-`));
  let dns: DnsDaemon | undefined;
  try {
    const key = await generateTsigKey("bench-key");
    dns = await startNamedPrimary({ zone: ZONE, keys: [key], records: zoneRecords(Math.max(...SIZES)) });
    const samples: ScaleSample[] = [];
    for (const guests of SIZES) {
      const s = await measure(dir, dns, key, guests);
      if (s.planChanges !== 0)
        throw new Error(`bench: the steady plan at ${guests} guests has ${s.planChanges} changes`);
      if (s.warmupErrors?.length)
        throw new Error(`bench: first reconcile at ${guests}: ${s.warmupErrors.join("; ")}`);
      if (s.reconcileErrors?.length)
        throw new Error(`bench: reconcile at ${guests}: ${s.reconcileErrors.join("; ")}`);
      samples.push(s);
    }
    const base = samples[0]!;
    console.log(
      `reconcile at scale: 3 nodes, reconcile of pve1 (a third of the guests); ${cpus().length} CPUs (${cpus()[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
    );
    console.log(
      `baseline: per-guest time at ${base.guests} guests (ratio = per-guest time / baseline's; linear = 1x)`,
    );
    const pure = (s: ScaleSample) => s.loadMs + s.desiredMs + s.planMs;
    for (const s of samples) {
      console.log(
        `  ${String(s.guests).padStart(6)} guests: load ${ms(s.loadMs)}, desired ${ms(s.desiredMs)}, plan ${ms(s.planMs)} ` +
          `(pure ${ms(pure(s))}, ${ratio(pure(s), s.guests, pure(base), base.guests)}); ` +
          `steady reconcile ${ms(s.reconcileMs)} (${ratio(s.reconcileMs, s.guests, base.reconcileMs, base.guests)}, ${s.reconcileRequests ?? "-"} API requests); ` +
          `peak RSS ${s.peakRssMiB.toFixed(0)} MiB`,
      );
    }
    const last = samples.at(-1)!;
    const grow = (a: number | undefined, b: number | undefined) =>
      a === undefined || b === undefined ? "-" : `${(b / a).toFixed(1)}x`;
    console.log(
      `growth ${base.guests} -> ${last.guests} guests (${(last.guests / base.guests).toFixed(0)}x): ` +
        `pure ${grow(pure(base), pure(last))}, steady reconcile ${grow(base.reconcileMs, last.reconcileMs)}`,
    );
    if (last.guests >= 10_000) {
      const met = (ok: boolean) => (ok ? "met" : "NOT MET");
      console.log(
        `floor: steady reconcile of 10,000 guests under ${FLOOR_RECONCILE_MS} ms: ${met((last.reconcileMs ?? Infinity) < FLOOR_RECONCILE_MS)}; ` +
          `peak RSS under ${FLOOR_RSS_MIB} MiB: ${met(last.peakRssMiB < FLOOR_RSS_MIB)}`,
      );
    }
  } finally {
    await dns?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
