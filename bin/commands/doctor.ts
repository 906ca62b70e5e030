import type { Command } from "commander";
import type { ExampleTable } from "../../lib/cli-docs/examples.ts";
import type { LoadedConfig } from "../../lib/config/load.ts";
import { runClusterDoctor } from "../../lib/doctor/cluster.ts";
import { formatReport } from "../../lib/doctor/report.ts";
import { runDoctor, runHookFileDoctor } from "../../lib/doctor/run.ts";
import { type GlobalOptions, printEnvelope } from "./common.ts";

// `doctor`: checks this node's setup; one line per finding with a fix hint.
// Exit 0 without failures (warnings allowed), 1 for a config problem, 2 when
// a peer or setup check failed.

interface DoctorCliOptions extends GlobalOptions {
  node?: string;
  root?: string;
  hookscriptFile?: boolean;
  local?: boolean;
  cluster?: boolean;
}

export function registerDoctorCommand(
  program: Command,
  load: (path?: string) => Promise<LoadedConfig>,
): void {
  program
    .command("doctor")
    .description(
      "check this node's setup (config, Proxmox API, DNS masters, nft, haproxy, journal, hookscripts) and the hookscript file on every node",
    )
    .option("--node <name>", "act as this node (default: $PVEMIGRATE_DNS_NODE or the hostname)")
    .option("--json", "machine-readable output")
    .option(
      "--root <dir>",
      "where /etc/nftables.conf, /etc/systemd and /var/lib/vz/snippets are looked up (default /)",
    )
    .option("--local", "check only this node (not the hookscript files of the other nodes, which need ssh)")
    .option(
      "--cluster",
      "run doctor on every node (over ssh) and check the cluster once: corosync links, quorum, versions; a problem several nodes see is reported once",
    )
    .option(
      "--hookscript-file",
      "only check this node's hookscript file the way Proxmox runs it (what doctor runs on the other nodes)",
    )
    .action(async (_o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<DoctorCliOptions>();
      const which = opts.hookscriptFile ? runHookFileDoctor : opts.cluster ? runClusterDoctor : runDoctor;
      const report = await which({
        load,
        ...(opts.config ? { configPath: opts.config } : {}),
        ...(opts.node ? { node: opts.node } : {}),
        ...(opts.root ? { rootDir: opts.root } : {}),
        ...(opts.local ? { local: true } : {}),
      });
      if (opts.json) {
        const lines = (status: string) =>
          report.findings.filter((f) => f.status === status).map((f) => `${f.check}: ${f.message}`);
        printEnvelope({
          data: report,
          exitCode: report.exitCode,
          warnings: lines("warn"),
          errors: lines("fail"),
        });
      } else process.stdout.write(`${formatReport(report).join("\n")}\n`);
      process.exitCode = report.exitCode;
    });
}

export const doctorExamples: ExampleTable = {
  doctor: [
    { command: "pvemigrate-dns doctor", explain: "check this node: one line per finding, with the fix" },
    { command: "pvemigrate-dns doctor --node pve2 --json", explain: "check as node pve2, as JSON" },
    {
      command: "pvemigrate-dns doctor --cluster",
      explain:
        "every node over ssh, plus corosync links, quorum and versions; each problem once, naming its nodes",
    },
  ],
};
