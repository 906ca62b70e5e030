import { join } from "node:path";
import { createProxmoxClient, type ProxmoxClient } from "../cluster/index.ts";
import { forNode } from "../config/for-node.ts";
import type { LoadedConfig } from "../config/load.ts";
import type { Secrets } from "../config/secrets.ts";
import type { Config } from "../config/types.ts";
import { createDnsClient, type DnsClient } from "../dns/client.ts";
import { InputError } from "../errors.ts";
import { createLogger, type Log, warnVia } from "../log/logger.ts";
import { localNodeName } from "../node-name.ts";
import { DepartureStore } from "../state/departures.ts";
import { openState, type State, type WithLock } from "../state/index.ts";
import { MoveStore } from "../state/moves.ts";

// Everything one run of the orchestrator talks to, built once from the
// config: the node we are, the Proxmox client, the DNS client, durable state.
// Tests build it the same way, with a config pointing at the simulated
// cluster, loopback masters, temp dirs and network namespaces.

export interface Runtime {
  config: Config;
  secrets: Secrets;
  /** The node this process acts as. */
  self: string;
  now(): number;
  /** Logs one message: information unless a level says otherwise (lib/log/logger.ts). */
  log: Log;
  proxmox: ProxmoxClient;
  dns: DnsClient;
  state: State;
  departures: Departures;
  moves: Moves;
}

/** Who left which node when (grace forwarding); see lockedDepartures. */
export type Departures = Pick<DepartureStore, "list" | "add" | "addAll" | "prune" | "markPropagation">;

/** Planned moves whose names have a lowered TTL (lib/desired/ttl.ts). */
export type Moves = Pick<MoveStore, "list" | "add" | "remove" | "prune">;

/** Planned-move records, their writes serialized like the departures' (one file per VM, read-modify-write). */
function lockedMoves(store: MoveStore, lock: WithLock): Moves {
  return {
    list: () => store.list(),
    add: (m) => lock("moves", () => store.add(m)),
    remove: (m) => lock("moves", () => store.remove(m)),
    prune: (over) => lock("moves", () => store.prune(over)),
  };
}

/**
 * The departure records, their writes serialized by a cluster lock: a new
 * node's switch adds one while any node's reconcile prunes expired ones, and
 * both read, modify and rewrite the VM's one file in pmxcfs; unserialized, a
 * prune could write back what it read before the add and lose the new record
 * (the old node would then drop the VM instead of grace-forwarding to it).
 */
function lockedDepartures(store: DepartureStore, lock: WithLock): Departures {
  return {
    list: () => store.list(),
    add: (d) => lock("departures", () => store.add(d)),
    addAll: (ds) => lock("departures", () => store.addAll(ds)),
    prune: (cutoff, keep) => lock("departures", () => store.prune(cutoff, keep)),
    markPropagation: (vmid, node, seen) => lock("departures", () => store.markPropagation(vmid, node, seen)),
  };
}

export interface RuntimeOptions {
  /** Act as this node (tests, `apply --local --node X` over netns); default $PVEMIGRATE_DNS_NODE or the hostname. */
  node?: string;
  now?: () => number;
  log?: Log;
}

export { localNodeName };

export function createRuntime(loaded: LoadedConfig, opts: RuntimeOptions = {}): Runtime {
  const self = opts.node ?? localNodeName();
  if (!loaded.config.nodes[self]) {
    throw new InputError(
      `--node: "${self}" is not in the config's nodes (${Object.keys(loaded.config.nodes).join(", ")}); set PVEMIGRATE_DNS_NODE or --node`,
    );
  }
  const config = forNode(loaded.config, self);
  const now = opts.now ?? Date.now;
  const log = opts.log ?? createLogger({ node: self });
  const warn = warnVia(log);
  let proxmox: ProxmoxClient | undefined;
  let dns: DnsClient | undefined;
  const state = openState(config, { now, warn });
  return {
    config,
    secrets: loaded.secrets,
    self,
    now,
    log,
    // Built on first use: the hook's fast paths never pay for clients they do not need.
    get proxmox() {
      proxmox ??= createProxmoxClient({ proxmox: config.proxmox, tokenSecret: loaded.secrets.token });
      return proxmox;
    },
    get dns() {
      // The node's clock signs TSIG: a skewed `now` is a skewed node (BADTIME), as in life.
      dns ??= createDnsClient({ dns: config.dns, tsigSecret: loaded.secrets.tsig, clock: now });
      return dns;
    },
    state,
    departures: lockedDepartures(
      new DepartureStore(join(config.pveRoot, "pvemigrate-dns", "departures"), warn),
      state.withClusterLock,
    ),
    moves: lockedMoves(
      new MoveStore(join(config.pveRoot, "pvemigrate-dns", "moves"), warn),
      state.withClusterLock,
    ),
  };
}
