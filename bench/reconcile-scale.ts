// Benchmark: does a reconcile stay linear in guests? 3 simulated nodes with
// 200, 1,000, 2,000, 5,000 and 10,000 guests (lib/sim/scale.ts: each with a
// static IP, one name, one SNI route, one public port), a real BIND primary
// already holding every name (ours, pointing at the right node), nat/proxy
// backends off for the whole run (their plans are timed on their own, pure).
// Per size, in a child process (bench/reconcile-scale-entry.ts) so its peak
// RSS is the reconcile's own: config load, desired state, one node's plan,
// and a whole steady `reconcile` of pve1. The baseline is measured in the same
// run: the per-guest time at 200 guests; linear growth keeps the ratio ~1x.
// Then what users run: the shipped bundle (scripts/build.mjs into the temp
// dir) as a whole `pvemigrate-dns reconcile` process, once after an edit of
// the file (no config cache) and once steady (cache valid), with its peak RSS,
// and `config check` of the same file (YAML output) after an edit and cached;
// the child above runs under tsx, whose loader thread and untranspiled
// sources cost tens of MiB the bundle does not (printed as "where RSS goes").
//   node --import tsx bench/reconcile-scale.ts          (needs named, tsig-keygen)
//   BENCH_SCALE_SIZES=200,2000 node --import tsx bench/reconcile-scale.ts
//   BENCH_SCALE_RETAINED=1 ...   also the heap still reachable after each stage (--expose-gc)
// Leaves nothing behind: the config cache goes to the run's temp dir
// (PVEMIGRATE_DNS_CACHE_DIR), never /run; the temp dir, named and the sim end with it.
import { spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { ownershipTxt } from "../lib/dns/ownership.ts";
import { startSimCluster } from "../lib/sim/cluster.ts";
import { SCALE_FIRST_VMID, scaleGuests, scaleVmsYaml } from "../lib/sim/scale.ts";
import { type DnsDaemon, generateTsigKey, startNamedPrimary } from "../test/support/named.ts";
import { missing } from "../test/support/requirements.ts";
import type { MemoryStage, ScaleSample } from "./reconcile-scale-entry.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const SIZES = (process.env.BENCH_SCALE_SIZES ?? "200,1000,2000,5000,10000").split(",").map(Number);
const NODES = { pve1: "203.0.113.10", pve2: "203.0.113.20", pve3: "203.0.113.30" } as const;
const ZONE = "example.org";
const OWNER = "pvemigrate-dns";
const TTL = 60;
/** Issue 16's floors for 10,000 guests on 3 nodes. */
const FLOOR_RECONCILE_MS = 2000;
const FLOOR_RSS_MIB = 256;

/** Prints this process's peak RSS (KiB) to stderr at exit: preloaded into the bundle's process, no file of its own. */
const REPORT_MAX_RSS = `data:text/javascript,${encodeURIComponent(
  'process.on("exit",()=>process.stderr.write("max-rss-kib "+process.resourceUsage().maxRSS+"\\n"))',
)}`;

interface Run {
  code: number | null;
  ms: number;
  stdout: string;
  stderr: string;
  /** Peak RSS in MiB, when the process reported it (REPORT_MAX_RSS). */
  peakRssMiB?: number;
}

function run(argv: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(process.execPath, argv, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = performance.now() - t;
      const kib = /max-rss-kib (\d+)/.exec(stderr)?.[1];
      resolve({ code, ms, stdout, stderr, ...(kib ? { peakRssMiB: Number(kib) / 1024 } : {}) });
    });
  });
}

async function runChild(args: string[], env: NodeJS.ProcessEnv): Promise<ScaleSample> {
  const gc = process.env.BENCH_SCALE_RETAINED ? ["--expose-gc"] : [];
  const r = await run(
    [...gc, "--import", "tsx", join(root, "bench", "reconcile-scale-entry.ts"), ...args],
    env,
  );
  if (r.code !== 0) throw new Error(`bench child exited ${r.code}: ${r.stderr.trim().slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}") as ScaleSample;
}

/**
 * The shipped CLI as a whole process: `reconcile` of pve1 after an edit (no
 * cache), then steady; `config check` (YAML output) after an edit and with the cache valid.
 */
async function bundleRuns(dist: string, file: string, env: NodeJS.ProcessEnv, cacheDir: string) {
  const cli = async (args: string[]) => {
    const r = await run(
      ["--import", REPORT_MAX_RSS, join(dist, "pvemigrate-dns.mjs"), "--config", file, ...args],
      env,
    );
    if (r.code !== 0) throw new Error(`bundle ${args[0]} exited ${r.code}: ${r.stderr.trim().slice(-2000)}`);
    return r;
  };
  const reconcile = () => cli(["reconcile", "--node", "pve1"]);
  const check = () => cli(["config", "check"]);
  await rm(cacheDir, { recursive: true, force: true });
  const edited = await reconcile();
  const steady = await reconcile();
  await rm(cacheDir, { recursive: true, force: true });
  const checkEdited = await check();
  const checkCached = await check();
  return { edited, steady, checkEdited, checkCached };
}

/** Peak RSS of an empty Node process, and of one with tsx's loader registered (what the child starts from). */
async function runnerBaselines(env: NodeJS.ProcessEnv) {
  const node = await run(["--import", REPORT_MAX_RSS, "-e", "0"], env);
  const tsx = await run(["--import", "tsx", "--import", REPORT_MAX_RSS, "-e", "0"], env);
  return { node: node.peakRssMiB, tsx: tsx.peakRssMiB };
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

async function measure(
  dir: string,
  dist: string,
  dns: DnsDaemon,
  tsig: { name: string; secret: string },
  guests: number,
) {
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
    const cacheDir = join(sizeDir, "cache");
    const env = { ...process.env, PVEMIGRATE_DNS_CACHE_DIR: cacheDir };
    const sample = await runChild([file, String(guests)], env);
    // The child left the state a steady run finds (last-applied, the registry of claimed names).
    return { sample, bundle: await bundleRuns(dist, file, env, cacheDir) };
  } finally {
    await sim.stop();
  }
}

const ms = (x: number | undefined) => (x === undefined ? "-" : `${x.toFixed(0)} ms`);
const ratio = (x: number | undefined, n: number, base: number | undefined, baseN: number) =>
  x === undefined || base === undefined || base === 0 ? "-" : `${(x / n / (base / baseN)).toFixed(2)}x`;

type Measured = Awaited<ReturnType<typeof measure>>;

function check({ sample: s }: Measured): void {
  if (s.planChanges !== 0)
    throw new Error(`bench: the steady plan at ${s.guests} guests has ${s.planChanges} changes`);
  if (s.warmupErrors?.length)
    throw new Error(`bench: first reconcile at ${s.guests}: ${s.warmupErrors.join("; ")}`);
  if (s.reconcileErrors?.length)
    throw new Error(`bench: reconcile at ${s.guests}: ${s.reconcileErrors.join("; ")}`);
}

const mib = (x: number | undefined) => (x === undefined ? "-" : `${x.toFixed(0)} MiB`);

/** Where the bench child's memory went, stage by stage, from what the runner alone takes. */
function printMemory(guests: number, stages: MemoryStage[], runner: { node?: number; tsx?: number }): void {
  console.log(
    `where RSS goes at ${guests} guests (bench child under tsx): node alone ${mib(runner.node)}, ` +
      `node + tsx's loader ${mib(runner.tsx)} (the shipped bundle has no loader and no transpiling)`,
  );
  for (const m of stages) {
    const reachable = m.retained === undefined ? "" : `, reachable ${mib(m.retained)}`;
    console.log(
      `  after ${m.stage.padEnd(24)} RSS ${mib(m.rss)}, peak so far ${mib(m.maxRss)}, heap used ${mib(m.heapUsed)}${reachable}`,
    );
  }
}

async function main(): Promise<void> {
  const why = missing({ bins: ["named", "tsig-keygen"] });
  if (why) {
    console.log(`reconcile-scale: skipped (${why})`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), `pvemigrate-bench-scale-${process.pid}-`));
  let dns: DnsDaemon | undefined;
  try {
    const dist = join(dir, "dist");
    const build = await run([join(root, "scripts", "build.mjs"), dist], process.env);
    if (build.code !== 0) throw new Error(`build failed: ${build.stderr}`);
    const key = await generateTsigKey("bench-key");
    dns = await startNamedPrimary({ zone: ZONE, keys: [key], records: zoneRecords(Math.max(...SIZES)) });
    const runs: Measured[] = [];
    for (const guests of SIZES) {
      const m = await measure(dir, dist, dns, key, guests);
      check(m);
      runs.push(m);
    }
    const samples = runs.map((r) => r.sample);
    const base = samples[0]!;
    console.log(
      `reconcile at scale: 3 nodes, reconcile of pve1 (a third of the guests); ${cpus().length} CPUs (${cpus()[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(" ")}`,
    );
    console.log(
      `baseline: per-guest time at ${base.guests} guests (ratio = per-guest time / baseline's; linear = 1x); ` +
        "load = the config as a steady run finds it (cache valid), parse = after an edit",
    );
    const pure = (s: ScaleSample) => s.loadMs + s.desiredMs + s.planMs;
    for (const { sample: s, bundle } of runs) {
      console.log(
        `  ${String(s.guests).padStart(6)} guests: load ${ms(s.loadMs)} (parse ${ms(s.loadMissMs)}), desired ${ms(s.desiredMs)}, plan ${ms(s.planMs)} ` +
          `(pure ${ms(pure(s))}, ${ratio(pure(s), s.guests, pure(base), base.guests)}); ` +
          `steady reconcile ${ms(s.reconcileMs)} (${ratio(s.reconcileMs, s.guests, base.reconcileMs, base.guests)}, ${s.reconcileRequests ?? "-"} API requests); ` +
          `peak RSS ${s.peakRssMiB.toFixed(0)} MiB`,
      );
      console.log(
        `          shipped CLI, whole \`reconcile\` process: steady ${ms(bundle.steady.ms)}, peak RSS ${mib(bundle.steady.peakRssMiB)}; ` +
          `after an edit ${ms(bundle.edited.ms)}, peak RSS ${mib(bundle.edited.peakRssMiB)}`,
      );
      console.log(
        `          shipped CLI, \`config check\`: after an edit peak RSS ${mib(bundle.checkEdited.peakRssMiB)}, ` +
          `cache valid ${mib(bundle.checkCached.peakRssMiB)}`,
      );
    }
    const last = runs.at(-1)!;
    const grow = (a: number | undefined, b: number | undefined) =>
      a === undefined || b === undefined ? "-" : `${(b / a).toFixed(1)}x`;
    console.log(
      `growth ${base.guests} -> ${last.sample.guests} guests (${(last.sample.guests / base.guests).toFixed(0)}x): ` +
        `pure ${grow(pure(base), pure(last.sample))}, steady reconcile ${grow(base.reconcileMs, last.sample.reconcileMs)}, ` +
        `shipped CLI steady ${grow(runs[0]!.bundle.steady.ms, last.bundle.steady.ms)}, its peak RSS ${grow(runs[0]!.bundle.steady.peakRssMiB, last.bundle.steady.peakRssMiB)}`,
    );
    printMemory(last.sample.guests, last.sample.memory, await runnerBaselines(process.env));
    if (last.sample.guests >= 10_000) {
      const met = (x: number | undefined, floor: number) =>
        x !== undefined && x < floor ? "met" : "NOT MET";
      const { steady, edited, checkEdited } = last.bundle;
      console.log(
        `floor: steady reconcile of 10,000 guests under ${FLOOR_RECONCILE_MS} ms: ${met(last.sample.reconcileMs, FLOOR_RECONCILE_MS)} ` +
          `(shipped CLI, whole process: ${met(steady.ms, FLOOR_RECONCILE_MS)}); ` +
          `peak RSS under ${FLOOR_RSS_MIB} MiB (shipped CLI): steady ${met(steady.peakRssMiB, FLOOR_RSS_MIB)}, after an edit ${met(edited.peakRssMiB, FLOOR_RSS_MIB)}, ` +
          `\`config check\` after an edit ${met(checkEdited.peakRssMiB, FLOOR_RSS_MIB)} ` +
          `(bench child under tsx: ${met(last.sample.peakRssMiB, FLOOR_RSS_MIB)})`,
      );
    }
  } finally {
    await dns?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
