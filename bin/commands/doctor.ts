import type { Command } from "commander";
import type { LoadedConfig } from "../../lib/config/load.ts";
import { formatReport } from "../../lib/doctor/report.ts";
import { runDoctor } from "../../lib/doctor/run.ts";
import { type GlobalOptions, printJson } from "./common.ts";

// `doctor`: checks this node's setup; one line per finding with a fix hint.
// Exit 0 without failures (warnings allowed), 1 for a config problem, 2 when
// a peer or setup check failed.

interface DoctorCliOptions extends GlobalOptions {
  node?: string;
  root?: string;
}

export function registerDoctorCommand(
  program: Command,
  load: (path?: string) => Promise<LoadedConfig>,
): void {
  program
    .command("doctor")
    .description(
      "check this node's setup (config, Proxmox API, DNS masters, nft, haproxy, journal, hookscripts)",
    )
    .option("--node <name>", "act as this node (default: $PVEMIGRATE_DNS_NODE or the hostname)")
    .option("--json", "machine-readable output")
    .option("--root <dir>", "where /etc/nftables.conf and /etc/systemd are looked up (default /)")
    .action(async (_o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<DoctorCliOptions>();
      const report = await runDoctor({
        load,
        ...(opts.config ? { configPath: opts.config } : {}),
        ...(opts.node ? { node: opts.node } : {}),
        ...(opts.root ? { rootDir: opts.root } : {}),
      });
      if (opts.json) printJson(report);
      else process.stdout.write(`${formatReport(report).join("\n")}\n`);
      process.exitCode = report.exitCode;
    });
}
