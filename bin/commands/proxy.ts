import type { Command } from "commander";
import type { ExampleTable } from "../../lib/cli-docs/examples.ts";
import { forNode } from "../../lib/config/for-node.ts";
import type { LoadedConfig } from "../../lib/config/load.ts";
import { ExitCode, InputError } from "../../lib/errors.ts";
import { localNodeName } from "../../lib/node-name.ts";
import { proxyConfigText } from "../../lib/proxy/config-text.ts";
import { type GlobalOptions, printEnvelope } from "./common.ts";

// `proxy config`: prints the HAProxy (or nginx) configuration this node's
// proxy needs for pvemigrate-dns's routes. It reads the config only: it
// writes no file and reaches no proxy.

interface ProxyConfigOptions extends GlobalOptions {
  node?: string;
  nginx?: boolean;
  standalone?: boolean;
}

export function registerProxyCommands(
  program: Command,
  load: (path?: string) => Promise<LoadedConfig>,
): void {
  const proxy = program
    .command("proxy")
    .description("the HAProxy or nginx configuration the SNI/Host routes need");
  proxy
    .command("config")
    .description(
      "print the HAProxy configuration to include (or nginx's with --nginx, or proxy.backend: nginx)",
    )
    .option("--nginx", "nginx's stream { } and http { } blocks instead of HAProxy's")
    .option("--standalone", "a whole haproxy.cfg (global and defaults too), not a fragment to include")
    .option("--node <name>", "for this node (default: $PVEMIGRATE_DNS_NODE or the hostname)")
    .option("--json", "machine-readable output")
    .action(async (_o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<ProxyConfigOptions>();
      const { config } = await load(opts.config);
      const node = opts.node ?? localNodeName();
      if (!config.nodes[node]) {
        throw new InputError(
          `--node: "${node}" is not in the config's nodes (${Object.keys(config.nodes).join(", ")}); set PVEMIGRATE_DNS_NODE or --node`,
        );
      }
      const r = proxyConfigText({
        node,
        proxy: forNode(config, node).proxy,
        nginx: opts.nginx ?? false,
        standalone: opts.standalone ?? false,
      });
      if (opts.json) printEnvelope({ data: r, exitCode: ExitCode.ok });
      else process.stdout.write(r.text);
    });
}

export const proxyExamples: ExampleTable = {
  "proxy config": [
    {
      command: "pvemigrate-dns proxy config",
      explain: "the HAProxy frontends and backends to load after haproxy.cfg",
    },
    {
      command: "pvemigrate-dns proxy config --standalone --node pve1",
      explain: "a whole haproxy.cfg for node pve1, for an HAProxy that serves only these routes",
    },
    { command: "pvemigrate-dns proxy config --nginx", explain: "the nginx stream and http blocks" },
  ],
};
