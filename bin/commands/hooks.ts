import type { Command } from "commander";
import type { LoadedConfig } from "../../lib/config/load.ts";
import { InputError } from "../../lib/errors.ts";
import { changeHooks } from "../../lib/hookscripts/apply.ts";
import { renderChange, renderStatus } from "../../lib/hookscripts/render.ts";
import { hooksStatus } from "../../lib/hookscripts/status.ts";
import { OUR_VOLID } from "../../lib/hookscripts/volume.ts";
import { createRuntime } from "../../lib/orchestrate/runtime.ts";
import { type GlobalOptions, printEnvelope } from "./common.ts";
import { vmidArg } from "./orchestrate.ts";

// `hooks attach|detach|status`: our hookscript on the configured guests,
// through `qm set`/`pct set` as root (the API gives `hookscript` to root@pam
// only, never to a token). This file parses and prints; lib/hookscripts acts.

interface HooksCliOptions extends GlobalOptions {
  node?: string;
  all?: boolean;
  chain?: boolean;
  script: string;
  root: string;
  local?: boolean;
  dryRun?: boolean;
}

type Load = (path?: string) => Promise<LoadedConfig>;

// The examples are in hooks-examples.ts (help, man page, tests).
const NOTES = `
Only root@pam may set a guest's hookscript; the API refuses it to API tokens,
root's own included. So these commands run qm/pct set as root on the guest's
node (guests on other nodes: over ssh, like apply --local). A guest with
another hookscript is never changed without --chain. Exit codes: 0 ok, 1 bad
VMID or refused (nothing changed), 2 qm/pct or another node failed.`;

function selection(texts: string[], opts: HooksCliOptions, action: string): number[] | undefined {
  if (opts.all && texts.length) throw new InputError("VMID: give VM ids or --all, not both");
  if (!opts.all && texts.length === 0 && action !== "status")
    throw new InputError(`VMID: name the guests to ${action}, or --all for every configured one`);
  return texts.length ? [...new Set(texts.map(vmidArg))] : undefined;
}

export function registerHooksCommands(program: Command, load: Load): void {
  const hooks = program
    .command("hooks")
    .description("attach, detach or show our hookscript on the configured guests (qm/pct set as root)")
    .addHelpText("after", NOTES);
  const descriptions = {
    attach: "attach our hookscript (a guest with another one is refused unless --chain)",
    detach: "remove our hookscript where it is ours (put back the one it chained)",
    status:
      "per guest: ours, other or none, what ours chains, and whether each file is executable on its node",
  } as const;
  for (const action of ["attach", "detach", "status"] as const) {
    const cmd = hooks
      .command(action)
      .description(descriptions[action])
      .argument("[vmid...]", "VM ids (default for status: every configured guest)")
      .option("--all", "every configured guest (the config file and Notes blocks)");
    if (action === "attach") cmd.option("--chain", "keep a guest's other hookscript and run it first");
    if (action !== "status") cmd.option("--dry-run", "print the qm/pct commands, change nothing");
    cmd
      .option("--script <volid>", "our hookscript's volume id", OUR_VOLID)
      .option("--root <dir>", "where snippets files are looked up (tests: {node} is the node name)", "/")
      .option("--local", "only guests on this node (what other nodes run over ssh)")
      .option("--node <name>", "act as this node (default: $PVEMIGRATE_DNS_NODE or the hostname)")
      .option("--json", "machine-readable output")
      .addHelpText("after", NOTES)
      .action(async (texts: string[], _o, c: Command) => {
        const opts = c.optsWithGlobals<HooksCliOptions>();
        const vmids = selection(texts, opts, action);
        const rt = createRuntime(await load(opts.config), opts.node ? { node: opts.node } : {});
        const common = {
          ...(vmids ? { vmids } : {}),
          ours: opts.script,
          rootDir: opts.root,
          localOnly: opts.local ?? false,
        };
        const report =
          action === "status"
            ? await hooksStatus(rt, common)
            : await changeHooks(rt, action, {
                ...common,
                chain: opts.chain ?? false,
                dryRun: opts.dryRun ?? false,
              });
        if (opts.json) {
          const failed =
            "action" in report
              ? report.guests.filter((g) => g.outcome === "failed").map((g) => g.message)
              : report.guests.flatMap((g) => (g.error ? [`VM ${g.vmid}: ${g.error}`] : []));
          printEnvelope({ data: report, exitCode: report.exitCode, errors: failed });
        } else {
          const lines = "action" in report ? renderChange(report) : renderStatus(report);
          process.stdout.write(lines.length ? `${lines.join("\n")}\n` : "no configured guest\n");
        }
        process.exitCode = report.exitCode;
      });
  }
}
