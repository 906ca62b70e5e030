import { z } from "zod";
import { ExitCode, InputError, messageOf } from "../errors.ts";
import type { Runtime } from "../orchestrate/runtime.ts";
import { run } from "../process/run.ts";
import { dropChainRecord, writeChainRecord } from "./chain-record.ts";
import { checkFile, readStorages, rootFor, toolPath } from "./files.ts";
import { type Inspected, inspectGuests } from "./inspect.ts";
import { type GuestHooks, type HookAction, planGuest, type Step } from "./plan.ts";
import { hooksOn } from "./remote.ts";
import { assertOurVolid, type StorageTable, snippetPath } from "./volume.ts";

// `hooks attach|detach`: read every selected guest, plan each (plan.ts),
// refuse the whole run when any guest is refused (nothing changed, exit 1),
// then run `qm set`/`pct set` here for guests on this node and ask each other
// node to do its own (remote.ts). Exit 2 when any guest could not be changed.

export interface HooksOptions {
  /** Explicit VMIDs; undefined for every configured guest. */
  vmids?: number[];
  /** Our hookscript's volume id. */
  ours: string;
  chain: boolean;
  /** "/" on a node; "{node}" is replaced by the node's name. */
  rootDir: string;
  dryRun: boolean;
  /** Only guests on this node (another node asked, over ssh). */
  localOnly: boolean;
}

const outcomes = ["attached", "chained", "detached", "restored", "unchanged", "failed"] as const;

export const guestResultSchema = z.object({
  vmid: z.number().int().positive(),
  type: z.enum(["qemu", "lxc"]).optional(),
  node: z.string().optional(),
  outcome: z.enum(outcomes),
  message: z.string(),
  /** The command run (in a dry run: that would run), tool name first. */
  command: z.array(z.string()).optional(),
  /** The node that ran it. */
  ranOn: z.string().optional(),
});
export type GuestResult = z.infer<typeof guestResultSchema>;

export interface HooksChangeReport {
  action: HookAction;
  dryRun: boolean;
  guests: GuestResult[];
  /** Configured VMs the API does not show (deleted, or hidden from the token). */
  missing: number[];
  exitCode: ExitCode;
}

const bounded = (text: string) => text.trim().split("\n").slice(-3).join(" | ").slice(0, 400);

async function executeHere(
  rt: Runtime,
  g: GuestHooks,
  step: Extract<Step, { kind: "change" }>,
  opts: HooksOptions,
  storages: StorageTable,
): Promise<GuestResult> {
  const base = { vmid: g.vmid, type: g.type, node: g.node, command: step.argv, ranOn: rt.self };
  const failed = (why: string): GuestResult => ({
    ...base,
    outcome: "failed",
    message: `VM ${g.vmid}: ${why}`,
  });
  const pveRoot = rt.config.pveRoot;
  if (step.outcome === "attached" || step.outcome === "chained") {
    // qm's own check_hookscript would refuse too; this names the fix.
    const where = snippetPath(opts.ours, storages, rootFor(opts.rootDir, rt.self));
    const file = "path" in where ? await checkFile(where.path) : undefined;
    if (file?.state !== "ok") {
      return failed(
        `our hookscript ${opts.ours} is ${file?.state ?? "unresolvable"} on ${rt.self}${file?.path ? ` (${file.path})` : ""}: install it there first (packaging/install.sh)`,
      );
    }
  }
  try {
    if (step.writeChain) await writeChainRecord(pveRoot, step.writeChain);
    else if (step.dropChain && step.outcome !== "restored") await dropChainRecord(pveRoot, g.vmid);
  } catch (err) {
    return failed(`cannot write its chain record: ${messageOf(err)}`);
  }
  const [tool, ...args] = step.argv;
  const r = await run([toolPath(tool === "pct" ? "pct" : "qm"), ...args], { timeoutMs: 60_000 }).catch(
    (err: Error) => err,
  );
  if (r instanceof Error || r.code !== 0) {
    // Not attached after all: the record must not wait for a later manual `qm set`.
    if (step.writeChain) await dropChainRecord(pveRoot, g.vmid).catch(() => {});
    const why = r instanceof Error ? r.message : bounded(r.stderr) || `exit ${r.code ?? r.signal}`;
    return failed(`${tool} set failed on ${rt.self}: ${why}`);
  }
  if (step.outcome === "restored") {
    try {
      await dropChainRecord(pveRoot, g.vmid);
    } catch (err) {
      return failed(`hookscript restored, but its chain record stays: ${messageOf(err)}`);
    }
  }
  return { ...base, outcome: step.outcome, message: step.message };
}

function unreadableResults(seen: Inspected): GuestResult[] {
  return seen.unreadable.map((u) => ({
    vmid: u.vmid,
    ...(u.type ? { type: u.type } : {}),
    ...(u.node ? { node: u.node } : {}),
    outcome: "failed" as const,
    message: `VM ${u.vmid}: ${u.error}`,
  }));
}

function delegateArgs(action: HookAction, vmids: number[], opts: HooksOptions, node: string): string[] {
  return [
    action,
    ...vmids.map(String),
    ...(opts.chain ? ["--chain"] : []),
    "--script",
    opts.ours,
    "--root",
    rootFor(opts.rootDir, node),
  ];
}

export async function changeHooks(
  rt: Runtime,
  action: HookAction,
  opts: HooksOptions,
): Promise<HooksChangeReport> {
  const storages = await readStorages(rt.config.pveRoot);
  assertOurVolid(opts.ours, storages);
  const seen = await inspectGuests(rt, {
    ...(opts.vmids ? { vmids: opts.vmids } : {}),
    requireConfigured: action === "attach",
    localOnly: opts.localOnly,
  });
  const now = new Date(rt.now()).toISOString();
  const planned = seen.guests.map((g) => ({
    g,
    step: planGuest(g, action, {
      ours: opts.ours,
      chain: opts.chain,
      storages,
      rootDir: rootFor(opts.rootDir, g.node),
      now,
    }),
  }));
  const refused = planned.flatMap(({ step }) => (step.kind === "refuse" ? [step.message] : []));
  if (refused.length) throw new InputError(`nothing changed:\n${refused.join("\n")}`);

  const results: GuestResult[] = unreadableResults(seen);
  const remote = new Map<string, Array<{ g: GuestHooks; step: Step }>>();
  for (const { g, step } of planned) {
    const base = { vmid: g.vmid, type: g.type, node: g.node };
    if (step.kind === "keep") results.push({ ...base, outcome: "unchanged", message: step.message });
    else if (step.kind !== "change") continue;
    else if (opts.dryRun)
      results.push({ ...base, outcome: step.outcome, message: step.message, command: step.argv });
    else if (g.node === rt.self) results.push(await executeHere(rt, g, step, opts, storages));
    else remote.set(g.node, [...(remote.get(g.node) ?? []), { g, step }]);
  }
  const asked = await Promise.all(
    [...remote].map(async ([node, list]) => {
      const vmids = list.map((x) => x.g.vmid);
      const r = await hooksOn(rt, node, delegateArgs(action, vmids, opts, node), guestResultSchema);
      const byId = new Map(("guests" in r ? r.guests : []).map((x) => [x.vmid, x]));
      return list.map(({ g, step }): GuestResult => {
        const got = byId.get(g.vmid);
        if (got) return got;
        const why = "error" in r ? r.error : "no result for it";
        return {
          vmid: g.vmid,
          type: g.type,
          node: g.node,
          outcome: "failed",
          message: `VM ${g.vmid}: ${node}: ${why}`,
          ...("argv" in step ? { command: step.argv } : {}),
        };
      });
    }),
  );
  results.push(...asked.flat());
  results.sort((a, b) => a.vmid - b.vmid);
  return {
    action,
    dryRun: opts.dryRun,
    guests: results,
    missing: seen.missing,
    exitCode: results.some((r) => r.outcome === "failed") ? ExitCode.peer : ExitCode.ok,
  };
}
