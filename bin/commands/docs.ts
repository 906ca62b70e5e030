import type { Command } from "commander";
import { renderBashCompletion } from "../../lib/cli-docs/completion.ts";
import type { ExampleTable } from "../../lib/cli-docs/examples.ts";
import { renderManPage } from "../../lib/cli-docs/man.ts";
import { describeCommand } from "../../lib/cli-docs/model.ts";
import { DEFAULT_CONFIG_PATH } from "../../lib/config/types.ts";
import { ExitCode, exitCodeMeanings, InputError } from "../../lib/errors.ts";
import pkg from "../../package.json" with { type: "json" };

// Hidden commands that print the bash completion script and the man page,
// both generated from this very program's commander definitions. The build
// (scripts/build.mjs) runs them to write dist/pvemigrate-dns.bash-completion
// and dist/pvemigrate-dns.1, which the packages install.

const DESCRIPTION = [
  "pvemigrate-dns moves a Proxmox VE guest's public face with it when it starts on a node or migrates to another: " +
    "the NAT forwards on the node's public address (nftables), the SNI/Host routes of its :443 and :80 (HAProxy or nginx) " +
    "and its DNS names (TSIG-signed RFC 2136 updates to the zone's master candidates). The old node forwards over the " +
    "private mesh for a grace period, then lets go.",
  "It runs as a Proxmox hookscript, from a timer (reconcile) and as this command. Every node reads the same config file " +
    "from pmxcfs. Commands that act as a node take --node (default: $PVEMIGRATE_DNS_NODE, else the short hostname).",
];

function manInfo(date: string | undefined) {
  return {
    name: "pvemigrate-dns",
    version: pkg.version,
    ...(date ? { date } : {}),
    description: DESCRIPTION,
    exitStatus: Object.values(ExitCode).map((code) => ({ code, meaning: exitCodeMeanings[code] })),
    environment: [
      {
        name: "PVEMIGRATE_DNS_CONFIG",
        meaning: `config file when --config is not given (default ${DEFAULT_CONFIG_PATH})`,
      },
      { name: "PVEMIGRATE_DNS_NODE", meaning: "the node this process acts as when --node is not given" },
    ],
    files: [
      { path: DEFAULT_CONFIG_PATH, meaning: "the cluster's config, replicated to every node by pmxcfs" },
      { path: "/etc/pve/priv/", meaning: "secret files (API token, TSIG key) the config names, root only" },
      {
        path: "/var/lib/pvemigrate-dns",
        meaning: "this node's journal of pending work, departures and locks (stateDir)",
      },
      {
        path: "/etc/haproxy/pvemigrate/",
        meaning: "the HAProxy map files of the SNI and Host routes (proxy.mapDir)",
      },
    ],
    seeAlso: [
      ["qm", 1],
      ["pct", 1],
      ["haproxy", 1],
      ["nft", 8],
      ["nsupdate", 1],
    ] as const,
  };
}

/** .TH date from SOURCE_DATE_EPOCH (reproducible builds), else none. */
function buildDate(env: NodeJS.ProcessEnv): string | undefined {
  const epoch = env.SOURCE_DATE_EPOCH;
  if (!epoch || !/^\d+$/.test(epoch)) return undefined;
  return new Date(Number(epoch) * 1000).toISOString().slice(0, 10);
}

export function registerDocsCommands(program: Command, examples: ExampleTable): void {
  program
    .command("completion", { hidden: true })
    .description("print the bash completion script")
    .argument("<shell>", "bash")
    .action((shell: string) => {
      if (shell !== "bash") throw new InputError(`shell: "${shell}" is not supported (bash)`);
      process.stdout.write(
        renderBashCompletion(describeCommand(program, examples), program.name(), pkg.version),
      );
    });
  program
    .command("man", { hidden: true })
    .description("print the man page (roff)")
    .action(() => {
      process.stdout.write(
        renderManPage(describeCommand(program, examples), manInfo(buildDate(process.env))),
      );
    });
}
