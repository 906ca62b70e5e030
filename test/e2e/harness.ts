import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { stringify } from "yaml";
import { type LoadedConfig, loadConfig } from "../../lib/config/load.ts";
import { createRuntime, type Runtime } from "../../lib/orchestrate/runtime.ts";
import { type RunResult, run } from "../../lib/process/run.ts";
import { type SimCluster, type SimClusterOptions, startSimCluster } from "../../lib/sim/cluster.ts";
import {
  type DnsDaemon,
  freePort,
  generateTsigKey,
  startNamedPrimary,
  startNamedSecondary,
  type TsigKeyFixture,
} from "../support/named.ts";

// An end-to-end cluster on one machine: the simulated Proxmox API, a real
// BIND primary and a secondary that forwards updates (the two master
// candidates), a config file with secrets, temp dirs standing for pmxcfs and
// each node's state dir. Node backends are off unless a test brings network
// namespaces (`nodes` override), so the orchestration logic runs without root.

const root = join(import.meta.dirname, "..", "..");

export interface HarnessOptions {
  sim?: SimClusterOptions;
  /** Extra config, merged over the default document; `ctx` gives the sim (its per-node endpoints) and the temp dir. */
  config?: (doc: Record<string, unknown>, ctx: { sim: SimCluster; dir: string }) => void;
  /** Start the secondary as the second master candidate (default true). */
  secondary?: boolean;
  /** Zone records to start with (the names are ours only with our TXT). */
  records?: string[];
  /**
   * Masters the caller started and owns (e.g. BIND in a network namespace of
   * its own, for the fault matrix): used instead of starting a primary and
   * secondary here; their host:port is what the config's masters name.
   */
  masters?: { key: TsigKeyFixture; primary: DnsDaemon; secondary?: DnsDaemon };
}

export interface Harness {
  dir: string;
  sim: SimCluster;
  primary: DnsDaemon;
  secondary?: DnsDaemon;
  key: TsigKeyFixture;
  configFile: string;
  /** The built CLI bundle (dist/pvemigrate-dns.mjs). */
  bundle: string;
  /** The built hookscript bundle (dist/hookscript.cjs next to the CLI bundle). */
  hookscript: string;
  loaded: LoadedConfig;
  /** Writes a variant of the config (e.g. strict: true) next to the main one; returns its path. */
  writeConfigVariant(name: string, mutate: (doc: Record<string, unknown>) => void): string;
  runtime(node: string, now?: () => number): Runtime;
  /** Runs the built CLI bundle as a whole process acting as `node`. */
  /** Async: the simulated API lives in this process and must keep answering while the CLI runs. */
  cli(node: string, args: string[]): Promise<RunResult>;
  stop(): Promise<void>;
}

/** The bundle is what nodes run (`remote.command`); build it once per test file. */
export function buildBundle(outDir: string): string {
  const r = spawnSync(process.execPath, [join(root, "scripts", "build.mjs"), outDir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
  return join(outDir, "pvemigrate-dns.mjs");
}

export const ZONE = "example.org";

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), `pvemigrate-e2e-${process.pid}-`));
  const cleanups: Array<() => Promise<void> | void> = [() => rmSync(dir, { recursive: true, force: true })];
  try {
    const key = opts.masters?.key ?? (await generateTsigKey("pvemigrate-key"));
    // The secondary follows the primary by NOTIFY, as a real one does: a switch
    // waits until every master answers the new address (dns.propagation).
    const secondaryPort = !opts.masters && (opts.secondary ?? true) ? await freePort() : undefined;
    const primary =
      opts.masters?.primary ??
      (await startNamedPrimary({
        zone: ZONE,
        keys: [key],
        records: opts.records ?? [],
        ...(secondaryPort ? { notifyPorts: [secondaryPort] } : {}),
      }));
    if (!opts.masters) cleanups.push(() => primary.stop());
    let secondary: DnsDaemon | undefined = opts.masters?.secondary;
    if (secondaryPort) {
      secondary = await startNamedSecondary({
        zone: ZONE,
        primaryPort: primary.port,
        keys: [key],
        port: secondaryPort,
      });
      cleanups.push(() => secondary!.stop());
    }
    // The sim writes and moves guest configs in the same pmxcfs tree the nodes read (config pveRoot).
    const sim = await startSimCluster({
      pveRoot: join(dir, "pve"),
      nodes: ["pve1", "pve2", "pve3"],
      vms: [
        { vmid: 101, node: "pve1" },
        { vmid: 102, node: "pve2" },
      ],
      migrationDelayMs: 400,
      ...opts.sim,
    });
    cleanups.push(() => sim.stop());
    const bundle = buildBundle(join(dir, "dist"));
    writeFileSync(join(dir, "token"), `${sim.tokenSecret}\n`, { mode: 0o600 });
    writeFileSync(join(dir, "tsig"), `${key.secret}\n`, { mode: 0o600 });
    const doc: Record<string, unknown> = {
      proxmox: { endpoints: [sim.url], tokenId: sim.tokenId, tokenSecretFile: "token" },
      nodes: {
        pve1: { publicIPv4: "203.0.113.10", privateIP: "10.99.0.1", publicInterface: "pub0" },
        pve2: { publicIPv4: "203.0.113.20", privateIP: "10.99.0.2", publicInterface: "pub0" },
        pve3: {
          publicIPv4: "203.0.113.30",
          privateIP: "10.99.0.3",
          publicInterface: "pub0",
          publicIPv6: "2001:db8::30",
        },
      },
      dns: {
        zone: ZONE,
        masters: [primary, ...(secondary ? [secondary] : [])].map((m) => `${m.host}:${m.port}`),
        tsig: { name: key.name, algorithm: key.algorithm, secretFile: "tsig" },
        ttl: 60,
        timeoutMs: 500,
        totalTimeoutMs: 2000,
      },
      nat: { backend: "none" },
      proxy: {
        backend: "none",
        socket: join(dir, "{node}", "admin.sock"),
        mapDir: join(dir, "{node}", "maps"),
      },
      graceSeconds: 30,
      stateDir: join(dir, "state", "{node}"),
      pveRoot: join(dir, "pve"),
      remote: { transport: "netns", command: [process.execPath, bundle] },
      vms: {
        // An IPv6 too, so its names get an AAAA on pve3 (the node with publicIPv6).
        101: {
          ip: "10.10.1.101",
          ip6: "fd10:10:1::101",
          dns: ["mail.example.org"],
          forward: ["tcp/2222:22", "udp/51820"],
        },
        102: { ip: "10.10.2.102", dns: ["shop.example.org", "www.example.org"], sni: ["shop.example.org"] },
      },
    };
    opts.config?.(doc, { sim, dir });
    const configFile = join(dir, "cluster.yaml");
    writeFileSync(configFile, stringify(doc));
    const loaded = await loadConfig(configFile);
    return {
      dir,
      sim,
      primary,
      ...(secondary ? { secondary } : {}),
      key,
      configFile,
      bundle,
      hookscript: join(dir, "dist", "hookscript.cjs"),
      loaded,
      writeConfigVariant(name, mutate) {
        // A deep copy: variants never leak into the main document or each other.
        const variant = structuredClone(doc);
        mutate(variant);
        const file = join(dir, `cluster-${name}.yaml`);
        writeFileSync(file, stringify(variant));
        return file;
      },
      runtime: (node, now) => createRuntime(loaded, { node, log: () => {}, ...(now ? { now } : {}) }),
      cli: (node, args) =>
        run([process.execPath, bundle, "--config", configFile, ...args, "--node", node], {
          timeoutMs: 60_000,
        }),
      async stop() {
        for (const c of cleanups.reverse()) await c();
      },
    };
  } catch (err) {
    for (const c of cleanups.reverse()) await c();
    throw err;
  }
}

/** This harness's detached hook workers still running (`<cli> hook <vmid> __worker <phase>`), by their command line, which names its temp dir. */
export function workerPids(h: Pick<Harness, "hookscript">): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      // The detached worker is the CLI bundle next to the hookscript.
      if (argv.some((a) => a.startsWith(dirname(h.hookscript))) && argv.includes("__worker"))
        pids.push(Number(entry));
    } catch {} // gone meanwhile
  }
  return pids;
}
