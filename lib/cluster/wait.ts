import { setTimeout as sleep } from "node:timers/promises";
import { PeerError } from "../errors.ts";
import type { ProxmoxClient } from "./client.ts";
import { getLiveStatus, type LiveStatus } from "./live.ts";
import type { GuestType } from "./types.ts";

// A live migration runs the target's start hooks BEFORE the switchover, while
// the VM still runs on the source. The public face may move once the guest's
// config is on the target and its process runs there: QemuMigrate::
// phase3_cleanup moves the config, resumes the VM on the target, and only then
// stops the source, frees local disks and unlocks, which can take long. So the
// migrate lock is NOT waited for. This asks the target node about the guest
// directly (one small, live request per poll, not the lagging cluster view).

export interface WaitOptions {
  timeoutMs: number;
  pollMs?: number;
}

/** Resolves once the guest's config is on `node` and its process exists there (any QMP state); PeerError on timeout. */
export async function waitForGuestOn(
  client: ProxmoxClient,
  guest: { vmid: number; node: string; type?: GuestType },
  opts: WaitOptions,
): Promise<LiveStatus> {
  const deadline = Date.now() + opts.timeoutMs;
  let last = "its config is not there yet";
  for (;;) {
    const live = await getLiveStatus(client, guest);
    if (live?.status === "running") return live;
    if (live) last = "its config is there but it is not running";
    if (Date.now() >= deadline) {
      throw new PeerError(
        `${guest.vmid} did not arrive on ${guest.node} within ${opts.timeoutMs} ms (${last})`,
      );
    }
    await sleep(opts.pollMs ?? 500);
  }
}
