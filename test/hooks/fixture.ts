import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { stringify } from "yaml";
import { type RunResult, run } from "../../lib/process/run.ts";
import { type SimCluster, type SimVmInput, startSimCluster } from "../../lib/sim/cluster.ts";
import { TSIG_SECRET } from "../config/fixture.ts";
import { buildBundle } from "../e2e/harness.ts";

// A cluster for `hooks`: the simulated Proxmox API, a config whose pmxcfs is
// a temp dir, one filesystem tree per node (`root/<node>`, passed as
// `--root root/{node}`) with our hookscript in local's snippets directory,
// and fake `qm`/`pct` that record every call: which tool, its argv, and the
// node it ran "on" (the `--node` of the pvemigrate-dns process that ran it,
// read from /proc, so a call delegated to pve2 shows pve2). The config's
// transport is netns: another node's `hooks ... --local` runs here as the
// built CLI with `--node <that node>`. Nothing contacts the DNS masters.

export const OURS = "local:snippets/pvemigrate-dns.mjs";
export const NODES = ["pve1", "pve2", "pve3"] as const;

export interface ToolCall {
  tool: string;
  argv: string[];
  node: string;
}

export interface HooksWorld {
  dir: string;
  sim: SimCluster;
  configFile: string;
  pveRoot: string;
  /** `root/{node}`: what --root gets. */
  rootTemplate: string;
  bundle: string;
  hookscript: string;
  /** The path of a snippet on `node`'s tree. */
  snippet(node: string, name: string): string;
  /** Writes an executable (or not) snippet on `node`. */
  putSnippet(node: string, name: string, text: string, mode?: number): string;
  /** Every qm/pct call so far, in order. */
  calls(): ToolCall[];
  /** The fakes exit 2 with Proxmox's lock message for these VMIDs. */
  failFor(vmids: number[]): void;
  cli(node: string, args: string[]): Promise<RunResult>;
  stop(): Promise<void>;
}

const FAKE_TOOL = `#!${process.execPath}
// Fake qm/pct: records argv and the node of the pvemigrate-dns process that ran it.
const fs = require("node:fs");
const path = require("node:path");
const dir = path.dirname(__filename);
const parent = fs.readFileSync("/proc/" + process.ppid + "/cmdline", "utf8").split("\\0");
const node = parent[parent.lastIndexOf("--node") + 1] || "?";
const argv = process.argv.slice(2);
fs.appendFileSync(path.join(dir, "calls.jsonl"), JSON.stringify({ tool: path.basename(__filename), argv, node }) + "\\n");
const fail = fs.existsSync(path.join(dir, "fail")) ? fs.readFileSync(path.join(dir, "fail"), "utf8").split(",") : [];
if (fail.includes(argv[1])) {
  process.stderr.write("VM " + argv[1] + " is locked (backup)\\n");
  process.exit(2);
}
`;

export async function startHooksWorld(vms: SimVmInput[], configured: number[]): Promise<HooksWorld> {
  const dir = mkdtempSync(join(tmpdir(), `pvemigrate-hooks-${process.pid}-`));
  const sim = await startSimCluster({ nodes: [...NODES], vms, migrationDelayMs: 100 });
  try {
    const bundle = buildBundle(join(dir, "dist"));
    const bin = join(dir, "bin");
    mkdirSync(bin);
    // The fakes are CommonJS: no package.json above the temp dir says otherwise.
    for (const tool of ["qm", "pct"]) writeFileSync(join(bin, tool), FAKE_TOOL, { mode: 0o755 });
    writeFileSync(join(dir, "token"), `${sim.tokenSecret}\n`, { mode: 0o600 });
    writeFileSync(join(dir, "tsig"), `${TSIG_SECRET}\n`, { mode: 0o600 });
    const pveRoot = join(dir, "pve");
    mkdirSync(pveRoot);
    const doc = {
      proxmox: { endpoints: [sim.url], tokenId: sim.tokenId, tokenSecretFile: "token" },
      nodes: Object.fromEntries(
        NODES.map((n, i) => [
          n,
          { publicIPv4: `203.0.113.${10 * (i + 1)}`, privateIP: `10.99.0.${i + 1}`, publicInterface: "pub0" },
        ]),
      ),
      dns: {
        zone: "example.org",
        masters: ["127.0.0.1:9"],
        tsig: { name: "pvemigrate-key", algorithm: "hmac-sha256", secretFile: "tsig" },
      },
      nat: { backend: "none" },
      proxy: { backend: "none" },
      stateDir: join(dir, "state", "{node}"),
      pveRoot,
      remote: { transport: "netns", command: [process.execPath, bundle] },
      vms: Object.fromEntries(configured.map((id) => [id, { ip: `10.10.${id % 250}.${id % 250}` }])),
    };
    const configFile = join(dir, "cluster.yaml");
    writeFileSync(configFile, stringify(doc));
    const snippet = (node: string, name: string) => join(dir, "root", node, "var/lib/vz/snippets", name);
    const putSnippet = (node: string, name: string, text: string, mode = 0o755) => {
      const file = snippet(node, name);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
      chmodSync(file, mode);
      return file;
    };
    for (const node of NODES) putSnippet(node, "pvemigrate-dns.mjs", "#!/bin/sh\nexit 0\n");
    const rootTemplate = join(dir, "root", "{node}");
    return {
      dir,
      sim,
      configFile,
      pveRoot,
      rootTemplate,
      bundle,
      hookscript: join(dir, "dist", "hookscript.cjs"),
      snippet,
      putSnippet,
      calls: () => {
        const file = join(bin, "calls.jsonl");
        if (!existsSync(file)) return [];
        return readFileSync(file, "utf8")
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line) as ToolCall);
      },
      failFor: (vmids) => writeFileSync(join(bin, "fail"), vmids.join(",")),
      cli: (node, args) =>
        run(
          [process.execPath, bundle, "--config", configFile, ...args, "--root", rootTemplate, "--node", node],
          {
            timeoutMs: 60_000,
            env: { ...process.env, PVEMIGRATE_DNS_QM: join(bin, "qm"), PVEMIGRATE_DNS_PCT: join(bin, "pct") },
          },
        ),
      async stop() {
        await sim.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
