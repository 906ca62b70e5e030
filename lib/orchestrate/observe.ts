import {
  type ClusterSnapshot,
  discoverIp,
  discoverIp6,
  getSnapshot,
  getVmDescriptions,
  missingConfiguredVms,
  missingVmWarning,
} from "../cluster/index.ts";
import { canonicalIPv6 } from "../cluster/ip.ts";
import { withLiveStatus } from "../cluster/live.ts";
import type { RunSnapshot, TakenLock } from "../cluster/run-snapshot.ts";
import { forbiddenVmAddresses } from "../config/addresses.ts";
import { formatProblem } from "../config/normalize.ts";
import { mergeNotes } from "../config/notes.ts";
import { notesOffReason } from "../config/notes-policy.ts";
import type { Config, Problem } from "../config/types.ts";
import type { Departure, VmPlacement } from "../desired/compute.ts";
import type { PlannedMove } from "../desired/ttl.ts";
import { messageOf } from "../errors.ts";
import { warnVia } from "../log/logger.ts";
import { execOn } from "../remote/apply.ts";
import { untrusted } from "../text/untrusted.ts";
import type { Runtime } from "./runtime.ts";

// The imperative half of "what is": one cluster snapshot, the VMs' Notes
// blocks merged into the config (as far as the file's notes policy allows),
// private IPs of the VMs we are about to route to, and recent departures.
// Everything after this is pure. Notes and agent answers come from guests:
// whatever of them reaches a log line goes through `untrusted` first.

/** Guests tagged so carry a config block in their Notes (saves one API call per untagged VM). */
export const NOTES_TAG = "pvemigrate-dns";

export interface World {
  snapshot: ClusterSnapshot;
  config: Config;
  placements: VmPlacement[];
  departures: Departure[];
  /** Planned moves whose names are served with a lowered TTL (migrate). */
  moves: PlannedMove[];
  /** Tagged guests whose Notes are known this time (read, or off by the file's policy) (a guest on an offline node, or an API error, leaves them unknown). */
  notesRead: ReadonlySet<number>;
  /** What VMs' Notes asked for and did not get (off, outside the policy, invalid, conflicts): escaped lines. */
  notes: string[];
}

export interface ObserveOptions {
  /** Resolve private IPs of the running VMs on these nodes (the nodes being converged). */
  resolveOn?: string[];
  /** Guests whose status comes from their node live, not from the lagging /cluster/resources (the one being switched or stopped). */
  live?: readonly number[];
  /** The run's one look at the cluster (reconcile): asked instead of the API. */
  snapshot?: RunSnapshot;
  /** The lock the caller took: a run snapshot older than what its earlier holders saw is read again (run-snapshot.ts). */
  lock?: TakenLock;
}

const loggedNotes = new WeakMap<Runtime, Set<string>>();

/** The file's config with the tagged guests' Notes merged in, and what was refused (escaped, one line each). */
async function withNotes(
  rt: Runtime,
  snapshot: ClusterSnapshot,
  readNotes: (vmids: number[]) => Promise<Map<number, string>>,
): Promise<{ config: Config; notes: string[]; notesRead: ReadonlySet<number> }> {
  const tagged = snapshot.vms.filter((vm) => vm.tags.includes(NOTES_TAG)).map((vm) => String(vm.vmid));
  const problems: Problem[] = [];
  // Notes the file does not allow are not even read: reported from the tag alone,
  // and known to add nothing (so names they once claimed are withdrawn).
  const notesRead = new Set<number>();
  const readable = tagged.filter((vmid) => {
    const off = notesOffReason(rt.config, vmid);
    if (off) {
      problems.push({ path: `vms.${vmid} (Notes)`, message: off });
      notesRead.add(Number(vmid));
    }
    return !off;
  });
  let config = rt.config;
  if (readable.length > 0) {
    try {
      const descriptions = await readNotes(readable.map(Number));
      const merged = mergeNotes(
        rt.config,
        Object.fromEntries([...descriptions].map(([id, d]) => [String(id), d])),
      );
      problems.push(...merged.problems, ...merged.conflicts);
      config = merged.config;
      for (const vmid of descriptions.keys()) notesRead.add(vmid);
    } catch (err) {
      // One unreadable guest config must not stop every switch and reconcile: the file still applies.
      problems.push({
        path: "notes",
        message: `cannot read tagged guests' Notes (${messageOf(err)}); using the config file alone`,
      });
    }
  }
  // Guest text (YAML errors, rejected names) is in these messages: one bounded line each.
  const notes = problems.map((p) => untrusted(formatProblem(p)));
  // One run observes several times (reconcile, converge, DNS): each line is logged once per run.
  const logged = loggedNotes.get(rt) ?? new Set<string>();
  loggedNotes.set(rt, logged);
  for (const line of notes.filter((l) => !logged.has(l))) {
    logged.add(line);
    rt.log(`notes: ${line}`, "warning");
  }
  return { config, notes, notesRead };
}

export async function observe(rt: Runtime, opts: ObserveOptions = {}): Promise<World> {
  const run = opts.snapshot;
  const when = opts.lock === undefined ? {} : { lock: opts.lock };
  const read = run ? await run.get(when) : await getSnapshot(rt.proxmox);
  const snapshot = await withLiveStatus(rt.proxmox, read, opts.live ?? [], warnVia(rt.log));
  // Notes are guest config: the run's snapshot reads each guest's once.
  const readNotes = (vmids: number[]) =>
    run ? run.descriptions(vmids, when) : getVmDescriptions(rt.proxmox, snapshot, vmids);
  const { config, notes, notesRead } = await withNotes(rt, snapshot, readNotes);
  // Not visible is not gone: Proxmox hides guests the token may not audit.
  for (const vmid of missingConfiguredVms(Object.keys(config.vms), snapshot))
    rt.log(missingVmWarning(vmid), "warning");
  const resolveOn = new Set(opts.resolveOn ?? []);
  const forbidden = forbiddenVmAddresses(config);
  const forbidden6 = new Map<string, string>();
  for (const n of Object.values(config.nodes)) {
    const pub = n.publicIPv6 && canonicalIPv6(n.publicIPv6);
    if (pub) forbidden6.set(pub, `node ${n.name}'s publicIPv6`);
  }
  for (const v of Object.values(config.vms))
    if (v.ip6?.kind === "static") forbidden6.set(v.ip6.address, `VM ${v.vmid}'s static ip6`);
  const claimed = new Map<string, string>();
  const byVmid = new Map<number, VmPlacement>();
  // VMs the file lists claim their discovered addresses first: a VM only its
  // Notes describe can never take an address from one the file describes.
  const fileFirst = [...snapshot.vms].sort(
    (a, b) => Number(!rt.config.vms[String(a.vmid)]) - Number(!rt.config.vms[String(b.vmid)]),
  );
  for (const vm of fileFirst) {
    const vmConfig = config.vms[String(vm.vmid)];
    if (!vmConfig) continue;
    const status = vm.status;
    const placement: VmPlacement = { vmid: vm.vmid, node: vm.node, status };
    if (vmConfig.ip.kind === "static") placement.ip = vmConfig.ip.address;
    else if (status === "running" && resolveOn.has(vm.node)) {
      // What a guest reports about itself is not trusted: it must not name a
      // node's own address, another VM's, or one another guest already claimed.
      const refuse = (ip: string) => forbidden.get(ip) ?? claimed.get(ip);
      try {
        const ip = await discoverIp(rt.proxmox, vm, vmConfig, {
          vmNetwork: config.vmNetwork,
          leasesFile: config.dnsmasqLeases,
          exec: execOn(config, vm.node),
        });
        const why = refuse(ip);
        if (why) throw new Error(`reports ${ip}, which is ${why}; not routing to it`);
        placement.ip = ip;
      } catch (err) {
        // The agent may be slow right after a start: the address we last routed to is the best guess.
        const last = await rt.state.lastApplied.get(vm.vmid);
        const known = last?.privateIPs[0];
        const fallback = known && !refuse(known) ? known : undefined;
        // The message may quote the guest agent's answer.
        rt.log(
          `VM ${vm.vmid}: ${untrusted(messageOf(err))}${fallback ? `; using last known ${fallback}` : ""}`,
          "warning",
        );
        if (fallback) placement.ip = fallback;
      }
      if (placement.ip) claimed.set(placement.ip, `claimed by VM ${vm.vmid}`);
      if (vmConfig.ip6?.kind === "agent" && config.vmNetwork6) {
        // Untrusted like the IPv4: never a node's public IPv6 nor another VM's ip6.
        try {
          const ip6 = await discoverIp6(rt.proxmox, vm, config.vmNetwork6);
          const why = forbidden6.get(ip6) ?? claimed.get(ip6);
          if (why) throw new Error(`reports ${ip6}, which is ${why}; not routing to it`);
          placement.ip6 = ip6;
          claimed.set(ip6, `claimed by VM ${vm.vmid}`);
        } catch (err) {
          rt.log(`VM ${vm.vmid}: ${untrusted(messageOf(err))}; no IPv6 forwards this run`, "warning");
        }
      }
    }
    byVmid.set(vm.vmid, placement);
  }
  const placements = snapshot.vms.flatMap((vm) => byVmid.get(vm.vmid) ?? []);
  const [departures, moves] = await Promise.all([rt.departures.list(), rt.moves.list()]);
  return { snapshot, config, placements, departures, moves, notes, notesRead };
}
