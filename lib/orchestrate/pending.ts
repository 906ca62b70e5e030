import { defineKind } from "../state/journal-item.ts";

// The kinds of pending work the orchestrator journals. Each id names the
// intent, not the attempt: recording it again replaces the older intent, and
// replaying any of them recomputes from the cluster's state at that time, so
// a replay is idempotent and never resurrects an old placement.

function object(raw: unknown, what: string): Record<string, unknown> {
  if (typeof raw !== "object" || raw === null) throw new Error(`${what}: payload is not an object`);
  return raw as Record<string, unknown>;
}

function vmidOf(o: Record<string, unknown>, what: string): number {
  const vmid = o.vmid;
  if (typeof vmid !== "number" || !Number.isInteger(vmid) || vmid <= 0) throw new Error(`${what}: bad vmid`);
  return vmid;
}

/**
 * A hook event to finish on this node (local journal): the detached worker's
 * to-do. One intent per VM and phase: a post-stop never replaces a pending
 * post-start. qemu-server >= 9.1.13 runs post-stop on the TARGET of a failed
 * live migration (phase2_cleanup's `qm stop --migratedfrom` -> vm_stop_cleanup),
 * and with the older cleanup path (`qm cleanup` from qmeventd) that can come
 * after the next attempt's pre-start recorded where the VM comes from.
 */
export interface HookWork {
  vmid: number;
  phase: "post-start" | "post-stop";
  migratedFrom?: string;
}
export const hookWork = defineKind<HookWork>(
  "hook",
  (p) => `hook:vm:${p.vmid}:${p.phase}`,
  (raw) => {
    const o = object(raw, "hook");
    if (o.phase !== "post-start" && o.phase !== "post-stop") throw new Error("hook: bad phase");
    return {
      vmid: vmidOf(o, "hook"),
      phase: o.phase,
      ...(typeof o.migratedFrom === "string" ? { migratedFrom: o.migratedFrom } : {}),
    };
  },
);

/** Converge a node (an old node that was unreachable, say). */
export interface NodeWork {
  node: string;
}
export const nodeWork = defineKind<NodeWork>(
  "node",
  (p) => `node:${p.node}`,
  (raw) => {
    const o = object(raw, "node");
    if (typeof o.node !== "string" || !/^[A-Za-z0-9-]+$/.test(o.node)) throw new Error("node: bad node name");
    return { node: o.node };
  },
);

/** Point a VM's names at its current node (all masters were down, say). */
export interface DnsWork {
  vmid: number;
  /**
   * A node whose convergence failed when the VM switched to it: the names
   * move only once no `node:<after>` work is pending (its forwards are in place).
   */
  after?: string;
}
export const dnsWork = defineKind<DnsWork>(
  "dns",
  (p) => `dns:vm:${p.vmid}`,
  (raw) => {
    const o = object(raw, "dns");
    if (o.after !== undefined && (typeof o.after !== "string" || !/^[A-Za-z0-9-]+$/.test(o.after)))
      throw new Error("dns: bad node name");
    return { vmid: vmidOf(o, "dns"), ...(typeof o.after === "string" ? { after: o.after } : {}) };
  },
);

/** Withdraw a guest's name nobody claims any more (the masters were down when it was due). */
export interface WithdrawWork {
  name: string;
  vmid: number;
}
export const withdrawWork = defineKind<WithdrawWork>(
  "withdraw",
  (p) => `withdraw:${p.name}`,
  (raw) => {
    const o = object(raw, "withdraw");
    // The name is checked again (zone, LDH) by the DNS client before anything is sent.
    if (typeof o.name !== "string" || o.name.length === 0 || o.name.length > 253)
      throw new Error("withdraw: bad name");
    return { name: o.name, vmid: vmidOf(o, "withdraw") };
  },
);
