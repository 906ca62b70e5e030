import type { NatConfig } from "../../lib/config/types.ts";
import type { NodeDesired, NodeForward } from "../../lib/desired/types.ts";
import { createNatBackend, type NatBackend } from "../../lib/nat/backend.ts";
import { renderPlan } from "../../lib/plan/types.ts";
import { netnsExec } from "../../lib/process/run.ts";
import {
  createWorld,
  type ProbeResult,
  probe,
  startServer,
  type World,
  type WorldOptions,
} from "../support/netns.ts";

// The set-up the nftables tests in network namespaces share: a world of
// nodes a and b (test/support/netns.ts), an nft backend on each, and in
// every VM the echo servers the forwards lead to (tcp/22 and udp/5353, on
// IPv6 too when the world has it). A node's desired state is read from the
// world's addresses, so a test only names its forwards.

export interface NatWorld {
  world: World;
  natA: NatBackend;
  natB: NatBackend;
}

export async function startNatWorld(opts: WorldOptions, nat: NatConfig): Promise<NatWorld> {
  const world = await createWorld(opts);
  const natA = createNatBackend({ nat, exec: netnsExec(world.nodes.a!.ns) });
  const natB = createNatBackend({ nat, exec: netnsExec(world.nodes.b!.ns) });
  for (const vm of Object.values(world.vms)) {
    for (const v6 of opts.ipv6 ? [false, true] : [false]) {
      await startServer(world, vm.ns, { kind: "tcp", port: 22, label: vm.name, v6 });
      await startServer(world, vm.ns, { kind: "udp", port: 5353, label: vm.name, v6 });
    }
  }
  return { world, natA, natB };
}

/** `node`'s desired state: its addresses in the world (IPv6 when it has them), these forwards, no routes. */
export function nodeDesired(
  world: World,
  node: string,
  forwards: NodeForward[],
  more: Pick<NodeDesired, "peers" | "arrivals"> = {},
): NodeDesired {
  const n = world.nodes[node]!;
  return {
    node,
    publicInterface: n.publicIf,
    publicIPv4: n.publicIp,
    ...(n.publicIp6 ? { publicIPv6: n.publicIp6 } : {}),
    privateIP: n.meshIp,
    vmNetwork: world.vmNetwork,
    ...(world.vmNetwork6 ? { vmNetwork6: world.vmNetwork6 } : {}),
    forwards,
    routes: [],
    ...more,
  };
}

/** Plans against what nft holds, applies, and returns the plan's lines. */
export async function converge(backend: NatBackend, desired: NodeDesired): Promise<string[]> {
  const plan = backend.plan(desired, await backend.read(), Date.now());
  await backend.apply(plan);
  return renderPlan(plan);
}

/** The client's probe of `host`: by default the ssh forward (tcp/2222), with `kind: "udp"` the wg one (udp/51820). */
export function fromClient(
  world: World,
  host: string,
  payload: string,
  opts: { kind?: "tcp" | "udp"; port?: number; timeoutMs?: number } = {},
): Promise<ProbeResult> {
  const kind = opts.kind ?? "tcp";
  const port = opts.port ?? (kind === "tcp" ? 2222 : 51820);
  return probe(world, world.client.ns, {
    kind,
    host,
    port,
    payload,
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
  });
}
