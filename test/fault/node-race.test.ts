import { expect, it } from "vitest";
import { run } from "../../lib/process/run.ts";
import { type NetnsClusterOptions, NODES } from "../e2e/netns-world.ts";
import { dig } from "../support/named.ts";
import { faultRuns, liveMigrate, nodeCluster, other, runRow, settle, vmNode } from "./harness-node.ts";
import { faultSuite } from "./suite.ts";

// Fault matrix row: the hook's worker, both nodes' timer reconciles and an
// operator's `dns set` of another name in the same zone, all at once, every
// round a live migration. Each round must end with the VM's name, forwards and
// routes on the target, nothing pending, and the operator's name holding what
// the operator set (a reconcile that rewrote it would be a clobber). 50 rounds
// in the soak (PVEMIGRATE_FAULT_RUNS=50), a few in `npm test`.
// (test/e2e/netns-race.test.ts races hook and reconcile without `dns set`.)

const OPERATOR_NAME = "cli.example.org";

// The VM's private IP learnt from its guest agent (`ip: agent`), not fixed in the config.
const AGENT_ADDRESSES: NetnsClusterOptions = { ipSource: "agent" };

/** Rounds in `npm test`; a soak (PVEMIGRATE_FAULT_RUNS) asks for more, with a timeout to match. */
const ROUNDS = faultRuns(3);

faultSuite("fault matrix: hook, reconcile and dns set racing", nodeCluster(AGENT_ADDRESSES), (cluster) => {
  it(
    "hook, both reconciles and a dns set of another name racing over live migrations: no name, forward or route lost or clobbered",
    async () => {
      const c = cluster();
      await runRow("hook, reconcile and dns set racing", ROUNDS, async (round) => {
        const to = other(vmNode(c));
        const address = `198.51.100.${(round % 200) + 1}`;
        const t0 = Date.now();
        const racers = liveMigrate(c, to).then(async () => {
          // The timers fire while the worker switches (the hook returned at once).
          await new Promise((r) => setTimeout(r, (round % 4) * 150));
          return Promise.all(NODES.map((n) => c.cli(n, ["reconcile", "--json"])));
        });
        // The operator's command, from the host (it acts on DNS only: no --node).
        const operator = run(
          [process.execPath, c.h.bundle, "--config", c.h.configFile, "dns", "set", OPERATOR_NAME, address],
          { timeoutMs: 60_000 },
        );
        const [reconciles, set] = await Promise.all([racers, operator]);
        expect(set.code, set.stderr).toBe(0);
        for (const r of reconciles) expect([0, 3], r.stderr).toContain(r.code);
        const result = await settle(c, to, t0);
        let clobbered = 0;
        const problems = [...result.problems];
        for (const m of [c.h.primary, ...(c.h.secondary ? [c.h.secondary] : [])]) {
          const got = (await dig(m.port, OPERATOR_NAME, "A")).join();
          if (got !== address) {
            clobbered++;
            problems.push(`clobbered: ${OPERATOR_NAME} at :${m.port} is ${got || "empty"}, set ${address}`);
          }
        }
        return {
          ...result,
          converged: result.converged && clobbered === 0,
          clobbered: result.clobbered + clobbered,
          problems,
        };
      });
    },
    120_000 + ROUNDS * 60_000,
  );
});
