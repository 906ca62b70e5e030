// Benchmark: a cluster snapshot of a simulated 32-node, 2,000-guest cluster.
// Prints the number of API requests and the time, against a baseline run in the
// same process: asking every guest's status one by one (8 in flight), which is
// what a per-guest loop over /nodes/{n}/qemu/{id}/status/current would cost.
//   npx tsx bench/cluster-snapshot.ts
import { createProxmoxClient } from "../lib/cluster/client.ts";
import { getSnapshot } from "../lib/cluster/snapshot.ts";
import { Secret } from "../lib/config/secret.ts";
import { startSimCluster } from "../lib/sim/cluster.ts";

const NODES = 32;
const GUESTS = 2000;

export async function benchClusterSnapshot(): Promise<{
  requests: number;
  ms: number;
  baselineRequests: number;
  baselineMs: number;
}> {
  const sim = await startSimCluster({ nodes: NODES, vms: GUESTS });
  try {
    const client = () =>
      createProxmoxClient({
        proxmox: {
          endpoints: [sim.url],
          tokenId: sim.tokenId,
          tokenSecretFile: "(bench)",
          connectTimeoutMs: 2000,
          requestTimeoutMs: 30_000,
        },
        tokenSecret: new Secret(sim.tokenSecret, "(bench)"),
      });

    await getSnapshot(client()); // warm-up: JIT, first connections
    const c = client();
    const t0 = performance.now();
    const snap = await getSnapshot(c);
    const ms = performance.now() - t0;
    if (snap.vms.length !== GUESTS || snap.nodes.length !== NODES)
      throw new Error("bench: incomplete snapshot");

    const b = client();
    const t1 = performance.now();
    let next = 0;
    const vms = snap.vms;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < vms.length) {
          const vm = vms[next++]!;
          await b.request("GET", `/nodes/${vm.node}/qemu/${vm.vmid}/status/current`);
        }
      }),
    );
    const baselineMs = performance.now() - t1;
    return { requests: c.stats.requests, ms, baselineRequests: b.stats.requests, baselineMs };
  } finally {
    await sim.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchClusterSnapshot();
  console.log(`cluster snapshot, ${NODES} nodes, ${GUESTS} guests`);
  console.log(`  snapshot:           ${r.requests} requests, ${r.ms.toFixed(1)} ms`);
  console.log(`  baseline per-guest: ${r.baselineRequests} requests, ${r.baselineMs.toFixed(1)} ms`);
  console.log(
    `  ratio: ${(r.baselineRequests / r.requests).toFixed(0)}x fewer requests, ${(r.baselineMs / r.ms).toFixed(1)}x faster`,
  );
}
