import { InputError, messageOf } from "../errors.ts";
import { publishSwitch } from "../metrics/events.ts";
import { applyOnNode } from "../remote/apply.ts";
import { type JournalKind, keepPending, type Located, runRecorded } from "../state/index.ts";
import { convergeNode, type NodeConvergence } from "./converge.ts";
import { type DnsSyncResult, followPropagation, syncDnsStrict } from "./dns-sync.ts";
import { observe } from "./observe.ts";
import { dnsWork, nodeWork } from "./pending.ts";
import type { Runtime } from "./runtime.ts";
import { switchOrigin } from "./switch-origin.ts";

// The switch: a VM now runs on this node. Each step journaled before it runs
// and cleared after it succeeded:
//   1. remember where it came from (grace forwarding on the old node),
//   2. this node's forwards and routes,
// then, at the same time (neither waits for the other):
//   3. the old node, over ssh: its entries turn into grace forwards,
//   4. DNS, compare-and-swap to this node's address;
// then, outside the VM's lock, the names are read back from every master and
// name server until they agree (the report says after how long, or who lags).
// A step that fails stays in the journal and the next run (reconcile, or the
// next event) finishes it; the steps after it still run, except DNS: names
// move here only once this node's forwards are in place. When step 2 failed
// (an nft error, a full disk), the DNS step is journaled without running,
// waiting for `node:<this node>`, so clients keep reaching the old node (its
// grace forwards) instead of a node that drops them.

export interface StepOutcome<T> {
  ok: boolean;
  value?: T;
  error?: string;
}

/** Why a switch did nothing: the config does not know the VM, or it does not run here. */
export type SkipReason = "not-configured" | "not-running-here";

export interface SwitchReport {
  vmid: number;
  to: string;
  from?: string;
  /** Why nothing was switched, for people; `skipReason` says the same for programs. */
  skipped?: string;
  skipReason?: SkipReason;
  local?: StepOutcome<NodeConvergence>;
  old?: StepOutcome<{ node: string; changes: string[] }>;
  dns?: StepOutcome<DnsSyncResult>;
  /** Journal ids still pending after this switch. */
  pending: string[];
}

/** Records a step that must wait for another, without running it: pending, with the reason as its error. */
async function heldStep<P>(
  rt: Runtime,
  kind: JournalKind<P>,
  payload: P,
  reason: string,
): Promise<StepOutcome<never>> {
  await keepPending(await rt.state.recordPending(kind, payload), new Error(reason));
  rt.log(`${kind.idOf(payload)}: ${reason} (kept in the journal)`, "warning");
  return { ok: false, error: reason };
}

/** Runs one step under a journal item (lib/state runRecorded); its failure is recorded, reported, and not thrown. */
export async function journaledStep<P, T>(
  rt: Runtime,
  kind: JournalKind<P>,
  payload: P,
  step: () => Promise<T>,
): Promise<StepOutcome<T>> {
  return recordedStep(rt, await rt.state.recordPending(kind, payload), step);
}

/** journaledStep for an item recorded already. */
async function recordedStep<P, T>(
  rt: Runtime,
  at: Located<P>,
  step: () => Promise<T>,
): Promise<StepOutcome<T>> {
  try {
    return { ok: true, value: await runRecorded(at, step) };
  } catch (err) {
    rt.log(`${at.item.id}: ${messageOf(err)} (kept in the journal)`, "warning");
    return { ok: false, error: messageOf(err) };
  }
}

export async function switchVm(
  rt: Runtime,
  vmid: number,
  opts: { from?: string; lockWaitMs?: number } = {},
): Promise<SwitchReport> {
  const start = Date.now();
  // Another switch of this VM may be waiting on a hung old node (ssh, 120 s): wait that long.
  const done = await rt.state.withVmLock(
    vmid,
    async (): Promise<SwitchReport> => {
      const report: SwitchReport = { vmid, to: rt.self, pending: [] };
      // This VM's status live: /cluster/resources lags ~10 s behind a start or an arrival.
      const world = await observe(rt, { resolveOn: [rt.self], live: [vmid] });
      const placement = world.placements.find((p) => p.vmid === vmid);
      if (!world.config.vms[String(vmid)])
        return { ...report, skipped: `VM ${vmid} is not in the config`, skipReason: "not-configured" };
      if (!placement || placement.node !== rt.self || placement.status !== "running") {
        const where = placement ? `${placement.status} on ${placement.node}` : "not in the cluster";
        return {
          ...report,
          skipped: `VM ${vmid} is ${where}, not running on ${rt.self}`,
          skipReason: "not-running-here",
        };
      }

      const last = await rt.state.lastApplied.get(vmid);
      const ip = placement.ip;
      const origin = switchOrigin({
        self: rt.self,
        hint: opts.from,
        last,
        knownNodes: new Set(Object.keys(world.config.nodes)),
        ip,
        ip6: placement.ip6,
        vmid,
        now: rt.now(),
      });
      const from = origin.from;
      if (from) report.from = from;
      // Best effort: without quorum pmxcfs is read-only; the old node's own
      // convergence then records the departure itself (converge.ts).
      if (origin.departure) {
        await rt.departures
          .add(origin.departure)
          .catch((err: unknown) =>
            rt.log(`VM ${vmid}: departure from ${from} not recorded: ${messageOf(err)}`),
          );
      }

      report.local = await journaledStep(rt, nodeWork, { node: rt.self }, () =>
        convergeNode(rt, rt.self, { live: [vmid] }),
      );
      if (report.local.ok) {
        const node = world.config.nodes[rt.self]!;
        await rt.state.lastApplied.set({
          vmid,
          node: rt.self,
          privateIPs: ip ? [ip] : [],
          ...(placement.ip6 ? { privateIPv6: placement.ip6 } : {}),
          publicIPs: [node.publicIPv4, ...(node.publicIPv6 ? [node.publicIPv6] : [])],
          names: world.config.vms[String(vmid)]!.dns,
        });
      }
      // Steps 3 and 4 side by side, each under its own journal item: a slow or
      // unreachable old node (ssh, up to 120 s) never holds the names back. Only
      // the old node's remote run overlaps DNS; its item is written before and
      // marked after DNS's own, so this process never takes two durable steps
      // at once (a crash lands between two of them, not inside another's lock).
      const oldAt = from ? await rt.state.recordPending(nodeWork, { node: from }) : undefined;
      const oldRun = from && oldAt ? applyOnNode(world.config, from) : undefined;
      oldRun?.catch(() => {}); // awaited below, after DNS
      report.dns = report.local.ok
        ? await journaledStep(rt, dnsWork, { vmid }, () => syncDnsStrict(rt, [vmid]))
        : await heldStep(
            rt,
            dnsWork,
            { vmid, after: rt.self },
            `names not moved: ${rt.self}'s forwards are not in place (${report.local.error}); waiting for node:${rt.self}`,
          );
      if (oldAt && oldRun) report.old = await recordedStep(rt, oldAt, () => oldRun);

      if (!report.local.ok) report.pending.push(`node:${rt.self}`);
      if (report.old && !report.old.ok) report.pending.push(`node:${from}`);
      if (!report.dns.ok) report.pending.push(`dns:vm:${vmid}`);
      return report;
    },
    { timeoutMs: opts.lockWaitMs ?? SWITCH_LOCK_WAIT_MS },
  );
  // Who follows the new names (dns.propagation), outside the lock.
  if (done.dns?.value) {
    await followPropagation(rt, done.dns.value, start);
    // Every server answers the new address: the old node's grace ends a TTL from now; a server
    // still answering the old one keeps it going (ttl.ts graceEndsAt).
    const seen = done.dns.value.propagation;
    if (done.from && seen)
      await rt.departures
        .markPropagation(vmid, done.from, { agreed: seen.agreed, at: rt.now() })
        .catch((err: unknown) => rt.log(`VM ${vmid}: agreement not recorded: ${messageOf(err)}`, "warning"));
  }
  if (!done.skipped && done.dns?.ok)
    publishSwitch({
      vmid,
      at: rt.now(),
      to: done.to,
      ...(done.from ? { from: done.from } : {}),
      seconds: (Date.now() - start) / 1000,
    });
  return done;
}

/** How long a switch waits for another switch of the same VM: longer than one may take. */
export const SWITCH_LOCK_WAIT_MS = 180_000;

/**
 * How long a reconcile (the timer's, or a worker draining the journal) waits
 * for a VM another process is switching before leaving it to that process.
 */
export const BUSY_VM_WAIT_MS = 5000;

/**
 * The `switch` command: its arguments checked against the config (a VM or a
 * --from node the config does not know is bad input, exit 1), the switch,
 * and its exit code.
 */
export async function switchCommand(
  rt: Runtime,
  vmid: number,
  from?: string,
): Promise<{ report: SwitchReport; exitCode: 0 | 2 | 3 }> {
  if (from !== undefined && !rt.config.nodes[from]) {
    throw new InputError(
      `--from: unknown node "${from}" (known: ${Object.keys(rt.config.nodes).join(", ")})`,
    );
  }
  const report = await switchVm(rt, vmid, from ? { from } : {});
  if (report.skipReason === "not-configured") throw new InputError(`VMID: ${report.skipped}`);
  return { report, exitCode: switchExitCode(report) };
}

/** Exit code of a switch: 0 all done, 3 some of it journaled, 2 nothing could be done. */
export function switchExitCode(r: SwitchReport): 0 | 2 | 3 {
  if (r.skipped || r.pending.length === 0) return 0;
  return r.local?.ok || r.old?.ok || r.dns?.ok ? 3 : 2;
}
