import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { stringify } from "yaml";
import { Secret } from "../lib/config/secret.ts";
import { createDnsClient } from "../lib/dns/client.ts";
import { run } from "../lib/process/run.ts";
import { closedPort, silentUdp } from "../test/dns/fake-servers.ts";
import { dig, generateTsigKey, startNamedPrimary } from "../test/support/named.ts";

// Benchmark (not a test): our `dns set` against `nsupdate -y` as whole
// processes on the same named, then failover with the first candidate silent:
// ours (next candidate after one 700 ms attempt) vs nsupdate pointed at the
// silent server, then at the live one, with its defaults.
// Run: node --import tsx bench/dns.ts   (needs named, nsupdate, root not required)

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 10);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function timed<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await f();
  return { ms: performance.now() - t, value };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), `pvemigrate-bench-dns-${process.pid}-`));
  const key = await generateTsigKey("bench-key");
  const primary = await startNamedPrimary({ zone: "example.org", keys: [key] });
  const silent = await silentUdp();
  let failed = false;
  try {
    const bundle = join(dir, "dns-cli.mjs");
    await build({
      entryPoints: [join(root, "bench", "dns-cli-entry.ts")],
      outfile: bundle,
      bundle: true,
      platform: "node",
      target: "node20.12",
      format: "esm",
      banner: {
        js: "import { createRequire as __c } from 'node:module'; const require = __c(import.meta.url);",
      },
      logLevel: "warning",
    });
    await writeFile(join(dir, "tsig"), `${key.secret}\n`);
    await writeFile(join(dir, "token"), "unused\n");
    await chmod(join(dir, "tsig"), 0o600);
    await chmod(join(dir, "token"), 0o600);
    const config = async (name: string, ports: number[]) => {
      const file = join(dir, name);
      await writeFile(
        file,
        stringify({
          proxmox: {
            endpoints: ["https://127.0.0.1:8006"],
            tokenId: "root@pam!bench",
            tokenSecretFile: "token",
          },
          nodes: { pve1: { publicIPv4: "203.0.113.10", privateIP: "10.10.0.1", publicInterface: "eno1" } },
          dns: {
            zone: "example.org",
            masters: ports.map((p) => `127.0.0.1:${p}`),
            tsig: { name: key.name, algorithm: key.algorithm, secretFile: "tsig" },
          },
          vms: {},
        }),
      );
      return file;
    };
    const direct = await config("direct.yaml", [primary.port]);
    const failover = await config("failover.yaml", [silent.port, primary.port]);

    let current = "none";
    const ours = async (cfg: string, name: string, address: string) => {
      const r = await run([
        "node",
        bundle,
        "--config",
        cfg,
        "dns",
        "set",
        name,
        address,
        "--expect",
        current,
      ]);
      if (r.code !== 0) throw new Error(`dns set failed: ${r.stderr}`);
      current = address;
    };
    const nsupdate = async (port: number, name: string, address: string, timeoutMs = 120_000) => {
      const script = `server 127.0.0.1 ${port}\nzone example.org\nupdate delete ${name} A\nupdate add ${name} 60 A ${address}\nsend\n`;
      return run(["nsupdate", "-y", `${key.algorithm}:${key.name}:${key.secret}`], {
        input: script,
        timeoutMs,
      });
    };

    // 1. The same update, whole processes, on the same named.
    const oursMs: number[] = [];
    const theirsMs: number[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      const a = `192.0.2.${(i % 200) + 1}`;
      oursMs.push((await timed(() => ours(direct, "bench.example.org", a))).ms);
      const r = await timed(() => nsupdate(primary.port, "bench-ns.example.org", a));
      if (r.value.code !== 0) throw new Error(`nsupdate failed: ${r.value.stderr}`);
      theirsMs.push(r.ms);
    }
    const [check] = await dig(primary.port, "bench.example.org", "A");
    if (check !== current) throw new Error(`named holds ${check}, expected ${current}`);
    const o = median(oursMs);
    const t = median(theirsMs);
    console.log(`same update, whole process (median of ${ITERATIONS}):`);
    console.log(
      `  ours dns set ${o.toFixed(0)} ms | nsupdate -y ${t.toFixed(0)} ms | ratio ours/nsupdate ${(o / t).toFixed(2)}`,
    );

    // 2. Failover with the first candidate silent.
    const failMs: number[] = [];
    for (let i = 0; i < Math.min(ITERATIONS, 5); i++) {
      failMs.push((await timed(() => ours(failover, "bench.example.org", `198.51.100.${i + 1}`))).ms);
    }
    const fo = median(failMs);
    const nsFail = await timed(async () => {
      const first = await nsupdate(silent.port, "bench-ns.example.org", "198.51.100.99");
      const second = await nsupdate(primary.port, "bench-ns.example.org", "198.51.100.99");
      if (second.code !== 0) throw new Error(`nsupdate (live) failed: ${second.stderr}`);
      return first;
    });
    console.log("failover, first candidate silent:");
    console.log(
      `  ours ${fo.toFixed(0)} ms (median of ${failMs.length}) | nsupdate silent-then-live ${nsFail.ms.toFixed(0)} ms ` +
        `(silent attempt exit ${nsFail.value.code}: ${nsFail.value.stdout.trim() || nsFail.value.stderr.trim().split("\n")[0]}) | ratio ${(fo / nsFail.ms).toFixed(3)}`,
    );
    // The same failover inside one process (what the hook's detached worker does): no node start-up.
    const inProcess = createDnsClient({
      dns: {
        zone: "example.org",
        masters: [
          { host: "127.0.0.1", port: silent.port },
          { host: "127.0.0.1", port: primary.port },
        ],
        tsig: { name: key.name, algorithm: key.algorithm, secretFile: join(dir, "tsig") },
        ttl: 60,
        timeoutMs: 700,
        totalTimeoutMs: 10_000,
        ownerId: "pvemigrate-dns",
        deleteOnStop: false,
        moveTtl: 30,
      },
      tsigSecret: new Secret(key.secret, join(dir, "tsig")),
    });
    const inProc = await timed(() =>
      inProcess.setAddresses([
        { name: "bench-inproc.example.org", a: ["198.51.100.77"], aaaa: [], expect: { a: [], aaaa: [] } },
      ]),
    );
    console.log(`  ours in-process (client call only): ${inProc.ms.toFixed(0)} ms`);
    const refused = await closedPort();
    const refusedCfg = await config("refused.yaml", [refused, primary.port]);
    const ref = await timed(() => ours(refusedCfg, "bench.example.org", "198.51.100.200"));
    console.log(`  ours with the first candidate refusing: ${ref.ms.toFixed(0)} ms`);
    const floor = fo < 1000;
    console.log(`floor: our failover under 1.0 s: ${floor ? "PASS" : "FAIL"}`);
    failed = !floor;
  } finally {
    await silent.close();
    await primary.stop();
    await rm(dir, { recursive: true, force: true });
  }
  if (failed) process.exitCode = 1;
}

await main();
