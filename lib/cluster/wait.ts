import { setTimeout as sleep } from "node:timers/promises";
import { PeerError } from "../errors.ts";
import { ProxmoxApiError, type ProxmoxClient } from "./client.ts";
import type { GuestType } from "./types.ts";

// A live migration runs the target's start hooks BEFORE the switchover, while
// the VM still runs on the source. The public face may only move once the
// guest's config is on the target and the migrate lock is gone: that is what
// this waits for, asking the target node about the guest directly (one small
// request per poll, not the whole cluster).

export interface WaitOptions {
  timeoutMs: number;
  pollMs?: number;
}

export interface GuestOnNode {
  status: string;
  lock?: string;
}

/** Resolves once the guest's config is on `node` and no migrate lock is held; PeerError on timeout. */
export async function waitForGuestOn(
  client: ProxmoxClient,
  guest: { vmid: number; node: string; type?: GuestType },
  opts: WaitOptions,
): Promise<GuestOnNode> {
  const path = `/nodes/${encodeURIComponent(guest.node)}/${guest.type ?? "qemu"}/${guest.vmid}/status/current`;
  const deadline = Date.now() + opts.timeoutMs;
  let last = "not there yet";
  for (;;) {
    try {
      const data = (await client.request("GET", path)) as { status?: unknown; lock?: unknown } | null;
      const lock = typeof data?.lock === "string" ? data.lock : undefined;
      if (lock !== "migrate") return { status: String(data?.status ?? "unknown"), ...(lock ? { lock } : {}) };
      last = "still locked by the migration";
    } catch (err) {
      // 500 "Configuration file ... does not exist": the config has not moved yet. Anything else is real.
      if (!(err instanceof ProxmoxApiError && err.status === 500)) throw err;
      last = err.message;
    }
    if (Date.now() >= deadline) {
      throw new PeerError(
        `${guest.vmid} did not arrive on ${guest.node} within ${opts.timeoutMs} ms (${last})`,
      );
    }
    await sleep(opts.pollMs ?? 500);
  }
}
