import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { z } from "zod";
import type { Config } from "../config/types.ts";
import { PLAIN_WORD } from "../config/values.ts";
import { unwrapEnvelope } from "../envelope.ts";
import { PeerError } from "../errors.ts";
import { type Exec, netnsExec, run, runLocal } from "../process/run.ts";
import { untrusted } from "../text/untrusted.ts";
import { remoteApplied } from "./reports.ts";

// Reaching another node: run `pvemigrate-dns apply --local` there, which
// converges that node to the cluster's current state (a departed VM's
// entries turn into grace forwards, then go). Production uses ssh, the
// standard root access between Proxmox nodes; tests and the demo use
// network namespaces on one machine (DESIGN: "every way out of the process is
// one small interface chosen by config").

/** Runs programs "on" node X: locally, or inside X's network namespace. */
export function execOn(config: Config, node: string): Exec {
  if (config.remote.transport !== "netns") return runLocal;
  const ns = config.remote.netns[node];
  if (ns) return netnsExec(ns);
  // Never fall back to this host: its own ruleset would be replaced by a simulated node's.
  return async (argv) => {
    throw new PeerError(
      `node ${node}: no network namespace in remote.netns for it; not running ${argv[0]} here`,
    );
  };
}

/**
 * Where Proxmox keeps `node`'s ssh host keys since PVE 8.2 (pve-cluster
 * stopped merging them into /etc/ssh/ssh_known_hosts): pve-cluster
 * src/PVE/SSHInfo.pm `ssh_info_to_ssh_opts` uses this file, when it exists,
 * for every ssh it runs to that node.
 */
export function nodeKnownHostsPath(config: Pick<Config, "pveRoot">, node: string): string {
  return join(config.pveRoot, "nodes", node, "ssh_known_hosts");
}

/** The node's known_hosts file when it exists (a regular file, Perl's `-f`), else undefined. */
export async function nodeKnownHosts(
  config: Pick<Config, "pveRoot">,
  node: string,
): Promise<string | undefined> {
  const path = nodeKnownHostsPath(config, node);
  const st = await stat(path).catch(() => undefined);
  return st?.isFile() ? path : undefined;
}

export interface RemoteArgvOptions {
  /** `node`'s known_hosts file (nodeKnownHosts): ssh then checks the host key there and only there. */
  knownHostsFile?: string;
}

/** The argv that runs `pvemigrate-dns <args>` on `node`; an array, never a shell string. */
export function remoteArgv(
  config: Config,
  node: string,
  args: readonly string[],
  opts: RemoteArgvOptions = {},
): string[] {
  const r = config.remote;
  const cli = [...r.command, "--config", config.source, ...args];
  if (r.transport === "netns") return [...cli, "--node", node];
  const target = config.nodes[node];
  if (!target) throw new PeerError(`unknown node ${node}`);
  // ssh hands the remote words to the remote shell joined by spaces: they are
  // fixed words, the admin's command, validated names and numbers, and a
  // config path (the same pmxcfs path on every node), every one checked to be
  // plain (remote.command already at config check).
  for (const word of cli) {
    if (!PLAIN_WORD.test(word)) throw new PeerError(`${JSON.stringify(word)} cannot be passed over ssh`);
  }
  return [
    "ssh",
    "-o",
    "BatchMode=yes",
    "-o",
    `ConnectTimeout=${r.connectTimeoutSeconds}`,
    "-o",
    `HostKeyAlias=${node}`,
    ...knownHostsOptions(opts.knownHostsFile),
    `${r.sshUser}@${target.sshHost}`,
    "--",
    ...cli,
  ];
}

/** The options PVE::SSHInfo adds for a node's own known_hosts file (same order). */
function knownHostsOptions(file: string | undefined): string[] {
  if (!file) return [];
  // ssh splits an -o value at whitespace: only a plain path can be passed.
  if (!PLAIN_WORD.test(file))
    throw new PeerError(`${JSON.stringify(file)} cannot be passed to ssh as a known_hosts file`);
  return ["-o", `UserKnownHostsFile=${file}`, "-o", "GlobalKnownHostsFile=none"];
}

/** How much of a peer's stderr an error quotes (escaped: it is another process's text). */
const STDERR_MAX_CHARS = 400;

/** What to expect from the peer: the schema (reports.ts) and its name in an error ("list of changes"). */
export interface RemoteOutput<S extends z.ZodType> {
  schema: S;
  what: string;
}

/**
 * Runs `pvemigrate-dns <args> --json` on `node` and returns its output (the
 * `data` of its JSON envelope) parsed by `expected.schema`; a PeerError names the node when it cannot run, fails,
 * or prints something else.
 */
export async function runOnNode<S extends z.ZodType>(
  config: Config,
  node: string,
  args: readonly string[],
  expected: RemoteOutput<S>,
  timeoutMs = 120_000,
): Promise<z.output<S>> {
  const knownHostsFile = config.remote.transport === "ssh" ? await nodeKnownHosts(config, node) : undefined;
  const argv = remoteArgv(config, node, [...args, "--json"], knownHostsFile ? { knownHostsFile } : {});
  const r = await run(argv, { timeoutMs }).catch((err: Error) => {
    throw new PeerError(`node ${node}: cannot run ${argv[0]}: ${err.message}`);
  });
  if (r.code !== 0 && r.code !== 3) {
    const last = r.stderr.trim().split("\n").slice(-2).join(" | ");
    const why = last ? untrusted(last, STDERR_MAX_CHARS) : `exit ${r.code ?? r.signal}`;
    throw new PeerError(`node ${node}: ${args.join(" ")} failed: ${why}`);
  }
  let out: unknown;
  try {
    // The peer's result is the `data` of its envelope (bare from an older version).
    out = unwrapEnvelope(JSON.parse(r.stdout));
  } catch {
    throw new PeerError(`node ${node}: ${args.join(" ")} printed no JSON result`);
  }
  const parsed = expected.schema.safeParse(out);
  if (!parsed.success) throw new PeerError(`node ${node}: ${args.join(" ")} printed no ${expected.what}`);
  return parsed.data;
}

export interface RemoteApplyResult {
  node: string;
  changes: string[];
}

/** Converges `node` by running `apply --local` there; a PeerError names the node when it cannot. */
export async function applyOnNode(config: Config, node: string): Promise<RemoteApplyResult> {
  const out = await runOnNode(config, node, ["apply", "--local"], {
    schema: remoteApplied,
    what: "list of changes",
  });
  return { node, changes: out.changes };
}
