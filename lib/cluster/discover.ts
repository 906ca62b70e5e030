import { readFile } from "node:fs/promises";
import { z } from "zod";
import type { VmConfig } from "../config/types.ts";
import { errnoCode, PeerError } from "../errors.ts";
import { type Exec, runLocal } from "../process/run.ts";
import type { ProxmoxClient } from "./client.ts";
import {
  type AddressPick,
  type AgentInterface,
  guestMacs,
  type Neighbour,
  parseLeases,
  pickAgentAddress,
  pickAgentAddress6,
  pickLease,
  pickNeighbour,
} from "./ip.ts";
import { getVmConfig } from "./snapshot.ts";
import type { SnapshotVm } from "./types.ts";

// Finds a VM's private IP the way its config says: static, guest agent,
// dnsmasq lease (by the MAC of its netN), or the node's neighbour table (by MAC).
// The choosing is pure (ip.ts); this module only fetches.

export interface DiscoverOptions {
  /** The VM network CIDR (config vmNetwork). */
  vmNetwork: string;
  /** dnsmasq leases file (config dnsmasqLeases). */
  leasesFile: string;
  /** Runs `ip -j neigh` for `ip: mac`; default: locally. */
  exec?: Exec;
  /** The guest's Proxmox config when the caller already has it (saves a request). */
  guestConfig?: Record<string, string>;
}

/**
 * One entry of GET /nodes/{n}/lxc/{id}/interfaces (pve-container
 * PVE::LXC::get_interfaces). `ip-addresses` (PVE 8.4+) lists every address;
 * the older `inet`/`inet6` hold only the LAST address of each family (the loop
 * overwrites them), so a CT with two IPv4 addresses may show the wrong one there.
 */
const lxcInterface = z.object({
  name: z.string(),
  inet: z.string().optional(),
  inet6: z.string().optional(),
  "ip-addresses": z
    .array(z.object({ "ip-address": z.string().optional(), "ip-address-type": z.string().optional() }))
    .optional(),
});

/** PURE: a container interface in the agent's shape, from `ip-addresses` when present. */
export function lxcAddresses(i: z.infer<typeof lxcInterface>): AgentInterface {
  const all = i["ip-addresses"]?.map((a) => a["ip-address"]).filter((a): a is string => !!a);
  const addresses = all ?? [i.inet, i.inet6].filter((a): a is string => !!a).map((a) => a.split("/")[0]!);
  return { name: i.name, "ip-addresses": addresses.map((a) => ({ "ip-address": a })) };
}

export class IpDiscoveryError extends PeerError {
  override name = "IpDiscoveryError";
}

async function agentInterfaces(client: ProxmoxClient, vm: SnapshotVm): Promise<AgentInterface[]> {
  const base = `/nodes/${encodeURIComponent(vm.node)}/${vm.type}/${vm.vmid}`;
  if (vm.type === "lxc") {
    // Containers have no agent: the host sees their interfaces directly.
    const data = await client.request("GET", `${base}/interfaces`);
    const parsed = z.array(lxcInterface).safeParse(data ?? []);
    if (!parsed.success) throw new IpDiscoveryError(`CT ${vm.vmid}: unexpected /interfaces answer`);
    return parsed.data.map(lxcAddresses);
  }
  const data = await client.request("GET", `${base}/agent/network-get-interfaces`);
  const parsed = agentAnswer.safeParse(data);
  if (!parsed.success)
    throw new IpDiscoveryError(`VM ${vm.vmid}: the guest agent answer is not a list of interfaces`);
  return parsed.data.result;
}

/**
 * What qemu-server's agent/network-get-interfaces relays from the guest's
 * guest-network-get-interfaces: `{ result: [...] }`. Written by the guest, so
 * checked before anything reads it; fields we do not use may be anything.
 */
const agentAnswer = z.object({
  result: z.array(
    z.object({
      name: z.string(),
      "hardware-address": z.string().optional(),
      "ip-addresses": z
        .array(
          z.object({
            "ip-address": z.string(),
            "ip-address-type": z.string().optional(),
            prefix: z.number().optional(),
          }),
        )
        .optional(),
    }),
  ),
}) satisfies z.ZodType<{ result: AgentInterface[] }>;

/** `ip -j neigh show`: entries without a link-layer address (FAILED, INCOMPLETE) have no lladdr. */
const neighbours = z.array(
  z.object({ dst: z.string(), lladdr: z.string().optional(), state: z.array(z.string()).optional() }),
) satisfies z.ZodType<Neighbour[]>;

function parseNeighbours(vmid: number, stdout: string): Neighbour[] {
  let raw: unknown;
  try {
    raw = JSON.parse(stdout || "[]");
  } catch {
    throw new IpDiscoveryError(`VM ${vmid}: ip -j neigh printed something that is not JSON`);
  }
  const parsed = neighbours.safeParse(raw);
  if (!parsed.success) throw new IpDiscoveryError(`VM ${vmid}: ip -j neigh printed an unexpected table`);
  return parsed.data;
}

export async function discoverIp(
  client: ProxmoxClient,
  vm: SnapshotVm,
  vmConfig: Pick<VmConfig, "ip">,
  opts: DiscoverOptions,
): Promise<string> {
  const source = vmConfig.ip;
  let pick: AddressPick;
  switch (source.kind) {
    case "static":
      return source.address;
    case "agent":
      pick = pickAgentAddress(await agentInterfaces(client, vm), opts.vmNetwork);
      break;
    case "dnsmasq": {
      const macs = guestMacs(opts.guestConfig ?? (await getVmConfig(client, vm)));
      let text: string;
      try {
        text = await readFile(opts.leasesFile, "utf8");
      } catch (err) {
        const code = errnoCode(err) ?? "unreadable";
        throw new IpDiscoveryError(`VM ${vm.vmid}: cannot read dnsmasq leases ${opts.leasesFile} (${code})`);
      }
      pick = pickLease(parseLeases(text), macs, opts.vmNetwork);
      break;
    }
    case "mac": {
      const macs = guestMacs(opts.guestConfig ?? (await getVmConfig(client, vm)));
      const r = await (opts.exec ?? runLocal)(["ip", "-j", "neigh", "show"], { timeoutMs: 5000 });
      if (r.code !== 0) throw new IpDiscoveryError(`VM ${vm.vmid}: ip neigh failed: ${r.stderr.trim()}`);
      pick = pickNeighbour(parseNeighbours(vm.vmid, r.stdout), macs, opts.vmNetwork);
      break;
    }
  }
  if (!pick.ok) throw new IpDiscoveryError(`VM ${vm.vmid} (ip: ${source.kind}): ${pick.reason}`);
  return pick.address;
}

/**
 * A VM's IPv6 for `ip6: agent`: the guest agent's (or, for a container, the
 * host's view of its interfaces) first address inside vmNetwork6, canonical.
 */
export async function discoverIp6(
  client: ProxmoxClient,
  vm: SnapshotVm,
  vmNetwork6: string,
): Promise<string> {
  const pick = pickAgentAddress6(await agentInterfaces(client, vm), vmNetwork6);
  if (!pick.ok) throw new IpDiscoveryError(`VM ${vm.vmid} (ip6: agent): ${pick.reason}`);
  return pick.address;
}
