import { getVmConfig, type SnapshotVm } from "../cluster/index.ts";
import { InputError, messageOf } from "../errors.ts";
import { observe } from "../orchestrate/observe.ts";
import type { Runtime } from "../orchestrate/runtime.ts";
import { readChainRecord } from "./chain-record.ts";
import type { GuestHooks } from "./plan.ts";

// Which guests `hooks` acts on and what they have now: the configured VMs
// (the file merged with Notes blocks: orchestrate/observe.ts, the same set
// every other command uses), where each runs (the cluster snapshot), its
// current `hookscript` (GET /nodes/{node}/{qemu|lxc}/{vmid}/config, the API
// answers for any node) and our chain record for it.

const CONCURRENCY = 4;

export interface Selection {
  /** Explicit VMIDs; undefined for every configured guest (--all). */
  vmids?: number[];
  /** attach: an explicit VMID must be configured (file or Notes), else our hook does nothing for it. */
  requireConfigured: boolean;
  /** --local: only guests on this node (what another node asks over ssh); a named one elsewhere is unreadable. */
  localOnly: boolean;
}

export interface Unreadable {
  vmid: number;
  type?: SnapshotVm["type"];
  node?: string;
  error: string;
}

export interface Inspected {
  guests: GuestHooks[];
  /** Selected guests whose state is unknown: offline node, API error, bad chain record, elsewhere (--local). */
  unreadable: Unreadable[];
  /** Configured VMs the API does not show (deleted, or hidden from the token). */
  missing: number[];
}

function select(rt: Runtime, vms: SnapshotVm[], configured: Set<number>, sel: Selection) {
  const byId = new Map(vms.map((vm) => [vm.vmid, vm]));
  if (!sel.vmids) {
    const found = [...configured].filter((id) => byId.has(id)).map((id) => byId.get(id)!);
    return { chosen: found, missing: [...configured].filter((id) => !byId.has(id)) };
  }
  const chosen: SnapshotVm[] = [];
  for (const vmid of sel.vmids) {
    const vm = byId.get(vmid);
    if (!vm) {
      throw new InputError(
        `VMID: ${vmid} is not a guest of this cluster (or the API token may not see it: it needs VM.Audit)`,
      );
    }
    if (sel.requireConfigured && !configured.has(vmid)) {
      throw new InputError(
        `VMID: ${vmid} is not configured (not in ${rt.config.source} nor in a Notes block): our hookscript would do nothing for it`,
      );
    }
    chosen.push(vm);
  }
  return { chosen, missing: [] };
}

async function readOne(rt: Runtime, vm: SnapshotVm): Promise<GuestHooks | Unreadable> {
  const where = { vmid: vm.vmid, type: vm.type, node: vm.node };
  try {
    const config = await getVmConfig(rt.proxmox, vm);
    const chain = readChainRecord(rt.config.pveRoot, vm.vmid);
    if (chain.kind === "bad") return { ...where, error: chain.error };
    return {
      ...where,
      ...(config.hookscript ? { hookscript: config.hookscript } : {}),
      ...(chain.kind === "chained" ? { chain: chain.record } : {}),
    };
  } catch (err) {
    return { ...where, error: `cannot read its config: ${messageOf(err)}` };
  }
}

export async function inspectGuests(rt: Runtime, sel: Selection): Promise<Inspected> {
  const world = await observe(rt);
  const configured = new Set(Object.keys(world.config.vms).map(Number));
  const { chosen, missing } = select(rt, world.snapshot.vms, configured, sel);
  const out: Inspected = { guests: [], unreadable: [], missing };
  const todo: SnapshotVm[] = [];
  for (const vm of chosen) {
    if (!sel.localOnly || vm.node === rt.self) todo.push(vm);
    // Named by another node that saw it here: it moved meanwhile. --all --local: simply not ours to do.
    else if (sel.vmids) {
      out.unreadable.push({
        vmid: vm.vmid,
        type: vm.type,
        node: vm.node,
        error: `is on ${vm.node}, not here`,
      });
    }
  }
  // Indexed by position: the output keeps VMID order whichever request finishes first.
  const results: Array<GuestHooks | Unreadable> = new Array(todo.length);
  let next = 0;
  async function worker() {
    while (next < todo.length) {
      const index = next++;
      results[index] = await readOne(rt, todo[index]!);
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, todo.length) }, worker));
  for (const r of results) {
    if ("error" in r) out.unreadable.push(r);
    else out.guests.push(r);
  }
  return out;
}
