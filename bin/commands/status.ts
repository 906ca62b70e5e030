import type { Command } from "commander";
import type { LoadedConfig } from "../../lib/config/load.ts";
import { ExitCode, InputError } from "../../lib/errors.ts";
import { localNodeName } from "../../lib/node-name.ts";
import { createRuntime } from "../../lib/orchestrate/runtime.ts";
import { collectStatus } from "../../lib/status/collect.ts";
import { readNodeHere } from "../../lib/status/node-read.ts";
import { renderStatus, useColor } from "../../lib/status/render.ts";
import { type GlobalOptions, printEnvelope } from "./common.ts";

// `status`: the cluster-wide, read-only view (lib/status/collect.ts), as text
// (lib/status/render.ts) or the JSON envelope. Needs no --node: on a host
// that is not one of the nodes, every node is read over the remote transport.
// `status --local` is what another node's status runs here over ssh.

interface StatusOptions extends GlobalOptions {
  node?: string;
  local?: boolean;
}

type Load = (path?: string) => Promise<LoadedConfig>;

export function registerStatusCommand(program: Command, load: Load): void {
  program
    .command("status")
    .description(
      "where every configured VM runs, its address, its names at every master (and why one drifts), its forwards and routes, pending work (read-only)",
    )
    .option(
      "--node <name>",
      "the node this host is (default: $PVEMIGRATE_DNS_NODE or the hostname, when a configured node)",
    )
    .option("--local", "only this node's forwards, routes and journal (what status runs on the other nodes)")
    .option("--json", "machine-readable output")
    .action(async (_o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<StatusOptions>();
      const loaded = await load(opts.config);
      const nodes = Object.keys(loaded.config.nodes);
      if (opts.node !== undefined && !loaded.config.nodes[opts.node])
        throw new InputError(`--node: "${opts.node}" is not in the config's nodes (${nodes.join(", ")})`);
      const hostNode = localNodeName();
      const here = opts.node ?? (loaded.config.nodes[hostNode] ? hostNode : undefined);
      if (opts.local) {
        if (!here)
          throw new InputError(`--local: this host (${hostNode}) is not in the config's nodes; give --node`);
        const entries = await readNodeHere(loaded.config, here, Date.now());
        if (opts.json) printEnvelope({ data: entries, exitCode: ExitCode.ok });
        else process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
        return;
      }
      // Any node will do to act as: status writes nothing and takes no lock.
      const rt = createRuntime(loaded, { node: here ?? nodes[0]! });
      const r = await collectStatus(rt, here, loaded.config);
      const exitCode = r.errors.length ? ExitCode.peer : ExitCode.ok;
      if (opts.json) printEnvelope({ data: r, exitCode, warnings: r.notes, errors: r.errors });
      else
        process.stdout.write(
          `${renderStatus(r, { color: useColor(process.stdout.isTTY, process.env) }).join("\n")}\n`,
        );
      process.exitCode = exitCode;
    });
}
