import { z } from "zod";
import { forNode } from "../config/for-node.ts";
import type { Config } from "../config/types.ts";
import { createNatBackend } from "../nat/backend.ts";
import type { NatForward } from "../nat/spec.ts";
import { createProxyBackend, servingRoutes } from "../proxy/backend.ts";
import { execOn, runOnNode } from "../remote/apply.ts";
import { openState } from "../state/index.ts";
import { pendingOf } from "./derive.ts";
import type { NodeEntries, PendingWork } from "./types.ts";

// READ-ONLY: what one node holds (its nft forwards, its proxy's routes, its
// local journal), for `status`. Read here through the node's exec seam when
// it can be (this host, or any node under the netns transport), otherwise on
// the node by `pvemigrate-dns status --local` over lib/remote's ssh, whose
// output is validated, never trusted as is. Nothing here writes.

/** Reads `node` from this host: only valid for this host or a netns node. */
export async function readNodeHere(config: Config, node: string, now: number): Promise<NodeEntries> {
  const c = forNode(config, node);
  const exec = execOn(config, node);
  const nat = await createNatBackend({ nat: c.nat, exec, clock: () => now }).read();
  const proxy = servingRoutes(await createProxyBackend({ proxy: c.proxy, exec }).read());
  const items = await openState(c, { now: () => now, warn: () => {} }).local.list();
  return { node, forwards: nat.forwards, routes: proxy, pending: pendingOf(items, node, now) };
}

const forwardSchema = z.object({
  family: z.union([z.literal(4), z.literal(6)]).optional(),
  proto: z.enum(["tcp", "udp"]),
  publicPort: z.number().int(),
  target: z.string(),
  targetPort: z.number().int(),
  graceUntil: z.number().optional(),
});
const pendingSchema = z.object({
  id: z.string(),
  kind: z.string(),
  journal: z.string(),
  vmid: z.number().int().optional(),
  reason: z.string(),
  attempts: z.number().int(),
  ageSeconds: z.number(),
});
const nodeEntriesSchema = z.object({
  node: z.string(),
  forwards: z.array(forwardSchema),
  routes: z.object({ sni: z.record(z.string(), z.string()), http: z.record(z.string(), z.string()) }),
  pending: z.array(pendingSchema),
});

type ParsedForward = z.output<typeof forwardSchema>;
type ParsedPending = z.output<typeof pendingSchema>;

/** exactOptionalPropertyTypes: the optional keys only when present. */
function toForward({ family, graceUntil, ...f }: ParsedForward): NatForward {
  return {
    ...f,
    ...(family === undefined ? {} : { family }),
    ...(graceUntil === undefined ? {} : { graceUntil }),
  };
}
function toPending({ vmid, ...p }: ParsedPending): PendingWork {
  return { ...p, ...(vmid === undefined ? {} : { vmid }) };
}

/** What `node` holds: read here (this host, netns), or there over ssh. */
export async function readNode(
  config: Config,
  node: string,
  here: string | undefined,
  now: number,
): Promise<NodeEntries> {
  if (config.remote.transport === "netns" || node === here) return readNodeHere(config, node, now);
  const d = await runOnNode(config, node, ["status", "--local"], {
    schema: nodeEntriesSchema,
    what: "forwards and routes",
  });
  return {
    node: d.node,
    forwards: d.forwards.map(toForward),
    routes: d.routes,
    pending: d.pending.map(toPending),
  };
}
