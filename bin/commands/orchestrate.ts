import type { Command } from "commander";
import type { LoadedConfig } from "../../lib/config/load.ts";
import { isVmidText } from "../../lib/config/values.ts";
import { ExitCode, InputError } from "../../lib/errors.ts";
import { reconcileWithMetrics } from "../../lib/metrics/reconcile-run.ts";
import { convergeNode } from "../../lib/orchestrate/converge.ts";
import { preflight, runMigration } from "../../lib/orchestrate/migrate.ts";
import { allChanges, planCluster, planExitCode } from "../../lib/orchestrate/plan.ts";
import { reconcileExitCode } from "../../lib/orchestrate/reconcile.ts";
import { createRuntime, type Runtime } from "../../lib/orchestrate/runtime.ts";
import { switchCommand } from "../../lib/orchestrate/switch.ts";
import { ttlSteps } from "../../lib/orchestrate/ttl-move.ts";
import { countChanges, describeChange, renderChange, summaryLine } from "../../lib/plan/types.ts";
import { type GlobalOptions, printEnvelope } from "./common.ts";

// The orchestrator's commands. Each builds a Runtime (which node we are,
// clients, state) and calls one function of lib/orchestrate; this file only
// parses arguments and prints.

interface NodeOptions extends GlobalOptions {
  node?: string;
  dryRun?: boolean;
  force?: boolean;
}

type Load = (path?: string) => Promise<LoadedConfig>;

async function runtime(load: Load, opts: NodeOptions): Promise<Runtime> {
  return createRuntime(await load(opts.config), opts.node ? { node: opts.node } : {});
}

export function vmidArg(text: string): number {
  if (!isVmidText(text)) throw new InputError(`VMID: "${text}" is not a VM id`);
  return Number(text);
}

const lines = (title: string, list: string[]) => {
  if (list.length) process.stdout.write(`${title}\n${list.map((l) => `  ${l}`).join("\n")}\n`);
};

export function registerOrchestrateCommands(program: Command, load: Load): void {
  const nodeOption = "--node <name>";
  const nodeHelp = "act as this node (default: $PVEMIGRATE_DNS_NODE or the hostname)";

  program
    .command("apply")
    .description("converge this node's forwards and routes to the cluster's current state")
    .requiredOption("--local", "this node only (what other nodes run over ssh)")
    .option(nodeOption, nodeHelp)
    .option("--dry-run", "show the plan, change nothing")
    .option("--json", "machine-readable output")
    .action(async (_o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<NodeOptions>();
      const rt = await runtime(load, opts);
      const r = await convergeNode(rt, rt.self, { dryRun: opts.dryRun ?? false });
      if (opts.json) printEnvelope({ data: r, exitCode: ExitCode.ok, warnings: r.warnings });
      else {
        lines(
          `${r.node}: ${r.changes.length ? (opts.dryRun ? "would change" : "changed") : "nothing to change"}`,
          r.changes,
        );
        lines("warnings:", r.warnings);
      }
    });

  program
    .command("plan")
    .description(
      "what the cluster's nodes and DNS would change (changes nothing); exit 0: no changes, 4: changes",
    )
    .option(nodeOption, nodeHelp)
    .option("--json", "machine-readable output: the change objects")
    .action(async (_o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<NodeOptions>();
      const rt = await runtime(load, opts);
      const plan = await planCluster(rt);
      const changes = allChanges(plan);
      if (opts.json)
        printEnvelope({
          data: { ...plan, summary: countChanges(changes) },
          exitCode: planExitCode(plan),
          warnings: [...plan.nodes.flatMap((n) => n.warnings), ...plan.dns.warnings],
          errors: plan.errors,
        });
      else {
        for (const n of plan.nodes) lines(`${n.node}:`, n.changes.map(describeChange));
        lines("dns:", plan.dns.changes.map(renderChange));
        lines("warnings:", [...plan.nodes.flatMap((n) => n.warnings), ...plan.dns.warnings]);
        lines("errors:", plan.errors);
        process.stdout.write(`${changes.length === 0 ? "No changes." : summaryLine(changes)}\n`);
      }
      process.exitCode = planExitCode(plan);
    });

  program
    .command("reconcile")
    .description(
      "finish journaled work, switch VMs that moved without a hook, converge this node, fix DNS drift",
    )
    .option(nodeOption, nodeHelp)
    .option("--dry-run", "show what would change, change nothing")
    .option("--force", "apply a plan over safety.maxChangePercent")
    .option("--json", "machine-readable output")
    .action(async (_o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<NodeOptions>();
      const rt = await runtime(load, opts);
      // With its metrics (lib/metrics/reconcile-run.ts): metrics.json, and metrics.textfile when set.
      const r = await reconcileWithMetrics(rt, { dryRun: opts.dryRun ?? false, force: opts.force ?? false });
      if (opts.json)
        printEnvelope({
          data: r,
          exitCode: reconcileExitCode(r),
          warnings: [...(r.local?.warnings ?? []), ...r.notes],
          errors: r.errors,
        });
      else {
        lines(`${r.node}${r.dryRun ? " (dry run)" : ""}: node`, r.local?.changes ?? []);
        lines("dns:", r.dns?.lines ?? []);
        lines(
          "switched:",
          r.switched.map((s) => `VM ${s.vmid}${s.from ? ` from ${s.from}` : ""} -> ${s.to}`),
        );
        lines(
          "being switched by another process (left to it):",
          r.busy.map((v) => `VM ${v}`),
        );
        lines("finished from the journal:", r.drained.done);
        lines("Notes ignored:", r.notes);
        lines("warnings:", r.local?.warnings ?? []);
        lines("still pending:", r.pending);
        lines("errors:", r.errors);
      }
      process.exitCode = reconcileExitCode(r);
    });

  program
    .command("switch")
    .description("point VMID's forwards, routes and names at this node now (what the hook's worker does)")
    .argument("<vmid>", "VM id")
    .option("--from <node>", "the node it came from")
    .option(nodeOption, nodeHelp)
    .option("--json", "machine-readable output")
    .action(async (vmidText: string, _o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<NodeOptions & { from?: string }>();
      const vmid = vmidArg(vmidText);
      const { report: r, exitCode } = await switchCommand(await runtime(load, opts), vmid, opts.from);
      if (opts.json)
        printEnvelope({
          data: r,
          exitCode,
          errors: [r.local?.error, r.old?.error, r.dns?.error].flatMap((e) => (e ? [e] : [])),
        });
      else {
        if (r.skipped) process.stdout.write(`${r.skipped}\n`);
        lines(`VM ${vmid} on ${r.to}:`, r.local?.value?.changes ?? []);
        lines(`old node ${r.from ?? "-"}:`, r.old?.value?.changes ?? (r.old?.error ? [r.old.error] : []));
        lines("dns:", r.dns?.value?.lines ?? (r.dns?.error ? [r.dns.error] : []));
        lines("journaled for the next run:", r.pending);
      }
      process.exitCode = exitCode;
    });

  program
    .command("migrate")
    .description("migrate a VM through the Proxmox API and move its public face with it")
    .argument("<vmid>", "VM id")
    .argument("<target>", "target node")
    .option("--online", "live migration (default for a running VM)")
    .option("--offline", "offline migration")
    .option("--dry-run", "check and show what would change, migrate nothing")
    .option("--no-wait", "migrate at once, without waiting out the names' old TTL")
    .option(nodeOption, nodeHelp)
    .option("--json", "machine-readable output")
    .action(async (vmidText: string, target: string, _o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<
        NodeOptions & { online?: boolean; offline?: boolean; wait: boolean }
      >();
      const noWait = opts.wait === false;
      if (opts.online && opts.offline) throw new InputError("--online and --offline exclude each other");
      const vmid = vmidArg(vmidText);
      const rt = await runtime(load, opts);
      const online = opts.online ? true : opts.offline ? false : undefined;
      const plan = await preflight(rt, vmid, target, online);
      const steps = plan.ttl ? ttlSteps(rt.config, plan, plan.ttl, noWait) : [];
      if (opts.dryRun) {
        if (opts.json) printEnvelope({ data: { dryRun: true, plan, steps }, exitCode: ExitCode.ok });
        else {
          process.stdout.write(
            `VM ${vmid}: ${plan.from} -> ${plan.to} (${plan.online ? "online" : "offline"}), checks passed\n`,
          );
          lines("forwards on the target:", plan.forwards);
          lines("routes on the target:", plan.routes);
          lines("dns:", plan.dns);
          lines("steps:", steps);
        }
        return;
      }
      const tty = process.stderr.isTTY && !opts.json;
      const t0 = Date.now();
      const progress = (line: string) => {
        const stamp = `[${((Date.now() - t0) / 1000).toFixed(1)}s]`;
        if (tty)
          process.stderr.write(`\r\x1b[K${stamp} ${line.slice(0, (process.stderr.columns ?? 80) - 12)}`);
        else process.stderr.write(`${stamp} ${line}\n`);
      };
      const s = await runMigration(rt, plan, progress, { noWait });
      if (tty) process.stderr.write("\n");
      if (opts.json)
        printEnvelope({
          data: s,
          exitCode: s.pending.length ? ExitCode.partial : ExitCode.ok,
          errors: s.pending.map((p) => `journaled for the next run: ${p}`),
        });
      else {
        process.stdout.write(
          `VM ${vmid} migrated ${s.from} -> ${s.to} in ${s.taskSeconds?.toFixed(1)}s; public face switched ${s.switchSeconds?.toFixed(2)}s after the task ended` +
            `${s.qemuDowntimeMs !== undefined ? `; QEMU downtime ${s.qemuDowntimeMs} ms` : ""}\n`,
        );
        if (s.taskProblems) lines("the migration task reported problems after the move:", [s.taskProblems]);
        lines("on the target:", s.switch?.local?.value?.changes ?? []);
        lines(
          "on the old node:",
          s.switch?.old?.value?.changes ?? (s.switch?.old?.error ? [s.switch.old.error] : []),
        );
        lines("dns:", s.verified?.dns ?? []);
        if (s.ttlMove)
          process.stdout.write(
            `TTL ${s.ttlMove.moveTtl} s until ${s.ttlMove.restoreAt}, then ${rt.config.dns.ttl} s again (reconcile)\n`,
          );
        process.stdout.write(
          `forwards and routes verified on ${s.to}: ${s.verified?.forwardsInPlace ? "yes" : "NO"}\n`,
        );
        lines("journaled for the next run:", s.pending);
      }
      process.exitCode = s.pending.length ? ExitCode.partial : ExitCode.ok;
    });
}
