import { ConfigError, type LoadedConfig } from "../config/load.ts";
import { formatProblem } from "../config/normalize.ts";
import { InputError, messageOf } from "../errors.ts";
import { createRuntime, localNodeName, type Runtime } from "../orchestrate/runtime.ts";
import { type Finding, fail, ok } from "./types.ts";

// First check, and the gate for every other one: without a config and a node
// name there is nothing to connect to.

export type Load = (path?: string) => Promise<LoadedConfig>;

export interface ConfigCheck {
  findings: Finding[];
  runtime?: Runtime;
}

export async function checkConfig(
  load: Load,
  opts: { configPath?: string; node?: string; now?: () => number; log?: (line: string) => void },
): Promise<ConfigCheck> {
  let loaded: LoadedConfig;
  try {
    loaded = await load(opts.configPath);
  } catch (err) {
    if (err instanceof ConfigError) {
      return {
        findings: err.problems.map((p) =>
          fail("config", `${err.source}: ${formatProblem(p)}`, "fix this field (see `config check`)"),
        ),
      };
    }
    return { findings: [fail("config", messageOf(err), "fix the config file or --config")] };
  }
  const { config } = loaded;
  const node = opts.node ?? localNodeName();
  const found: Finding[] = [
    ok(
      "config",
      `${config.source}: ${Object.keys(config.nodes).length} node(s), ${Object.keys(config.vms).length} VM(s)`,
    ),
  ];
  try {
    const runtime = createRuntime(loaded, {
      node,
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.log ? { log: opts.log } : {}),
    });
    found.push(ok("node", `acting as node ${node} (public ${runtime.config.nodes[node]?.publicIPv4})`));
    return { findings: found, runtime };
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    found.push(
      fail(
        "node",
        `node "${node}" is not in the config's nodes (${Object.keys(config.nodes).join(", ")})`,
        "pass --node <name> or set PVEMIGRATE_DNS_NODE; node names are Proxmox's (the short hostname)",
      ),
    );
    return { findings: found };
  }
}
