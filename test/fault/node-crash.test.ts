import { readdirSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { run } from "../../lib/process/run.ts";
import { CRASH_AFTER_ENV } from "../../lib/state/crash-point.ts";
import { type NodeName, VMID } from "../e2e/netns-world.ts";
import {
  type CheckedRun,
  faultRuns,
  finishRow,
  liveMigrate,
  nodeCluster,
  other,
  settle,
  vmNode,
} from "./harness-node.ts";
import { faultSuite } from "./suite.ts";

// Fault matrix row: the process doing a switch is killed with SIGKILL after
// each of its durable steps in turn (every journal item written or removed,
// every cluster lock taken: lib/state/crash-point.ts), so between any two
// journal entries and while it holds the "journal" or the "dns" cluster lock.
// The timers' reconciles must then finish the switch, without waiting out the
// dead holder's lock (pmxcfs would expire it only after 120 s; the issue saw
// DNS work blocked for two minutes).

faultSuite("fault matrix: SIGKILL at every step of a switch", nodeCluster(), (cluster) => {
  /** The switch the hook's worker runs, as its own process, dying after its `n`th durable step. */
  const switchDyingAfter = (to: NodeName, from: NodeName, n: number) =>
    run(
      [
        process.execPath,
        cluster().h.bundle,
        "--config",
        cluster().h.configFile,
        "switch",
        String(VMID),
        "--from",
        from,
        "--json",
        "--node",
        to,
      ],
      { timeoutMs: 90_000, env: { ...process.env, [CRASH_AFTER_ENV]: String(n) } },
    );
  // The dns lock's "released since" stamp stays beside it by design (lib/state/lock-stamp.ts): not a lock.
  const ourLocks = () =>
    readdirSync(join(cluster().h.loaded.config.pveRoot, "priv", "lock")).filter(
      (n) => n.startsWith("pvemigrate-dns-") && !n.endsWith(".stamp"),
    );

  it("killed after each journal entry and each cluster lock it takes: the next reconciles finish the switch, never waiting on the dead holder's lock", async () => {
    const c = cluster();
    const runs: CheckedRun[] = [];
    const points: string[] = [];
    for (let sweep = 0; sweep < faultRuns(1); sweep++) {
      for (let n = 1; ; n++) {
        const from = vmNode(c);
        const to = other(from);
        await liveMigrate(c, to, { hooks: false });
        const t0 = Date.now();
        const r = await switchDyingAfter(to, from, n);
        const point = /crash point: SIGKILL after (.*)/.exec(r.stderr)?.[1];
        if (r.signal !== "SIGKILL") {
          // Past its last step: the switch ran to the end.
          expect(r.code, r.stderr).toBe(0);
          expect(point).toBeUndefined();
          break;
        }
        expect(point, r.stderr).toBeDefined();
        if (sweep === 0) points.push(point!);
        const result = await settle(c, to, t0);
        const left = ourLocks();
        runs.push({
          ...result,
          problems: [
            ...result.problems,
            ...(left.length ? [`cluster locks left behind: ${left.join(", ")}`] : []),
          ].map((p) => `killed after ${point}: ${p}`),
        });
      }
    }
    // Every step a switch takes was a crash point: both journals' entries and the DNS lock.
    const tail = (p: string) => p.replace(/^journal .*\/([^/]+\/journal): /, "$1 ");
    expect(points.map(tail)).toEqual(
      expect.arrayContaining([
        "cluster lock journal: taken",
        "cluster lock dns: taken",
        expect.stringMatching(/journal wrote dns:vm:101$/),
        expect.stringMatching(/journal removed dns:vm:101$/),
        expect.stringMatching(/journal wrote node:pve\d$/),
      ]),
    );
    finishRow("process SIGKILLed at every step of a switch", runs);
  }, 600_000);
});
