import { lookup } from "node:dns/promises";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../config/types.ts";
import { errnoCode, messageOf } from "../errors.ts";
import type { ClusterStatusView } from "./check-proxmox.ts";
import {
  type AddressScope,
  addressScope,
  type CorosyncConf,
  parseCorosyncConf,
  qdeviceVotes,
} from "./corosync.ts";
import { type Finding, fail, ok, warn } from "./types.ts";

// The cluster's own wiring, judged once for the whole cluster (corosync.conf
// is the same file on every node: pmxcfs keeps it at /etc/pve/corosync.conf,
// pve-cluster src/PVE/Corosync.pm). Nodes in different datacenters must talk
// corosync over the private mesh, and the cluster must keep quorum when one
// node fails: without quorum /etc/pve is read-only, so guests cannot start
// or move on the survivors and our cluster lock cannot be taken.

/** Name -> addresses it resolves to, for links written as host names (corosync resolves them at start). */
export type Resolved = ReadonlyMap<string, readonly string[]>;

interface LinkEnd {
  node: string;
  address: string;
  scope: AddressScope | "unresolved";
  /** Which config field the address is, when it is a node's public address. */
  publicOf?: string;
}

function endOf(node: string, address: string, config: Pick<Config, "nodes">, resolved: Resolved): LinkEnd {
  for (const [name, n] of Object.entries(config.nodes)) {
    if (n.publicIPv4 === address) return { node, address, scope: "public", publicOf: `${name}'s publicIPv4` };
    if (n.publicIPv6 === address) return { node, address, scope: "public", publicOf: `${name}'s publicIPv6` };
  }
  const scope = addressScope(address);
  if (scope !== "hostname") return { node, address, scope };
  const ips = resolved.get(address) ?? [];
  if (ips.length === 0) return { node, address, scope: "unresolved" };
  // The worst address a name resolves to is the one corosync may pick.
  const scopes = ips.map((ip) => endOf(node, ip, config, new Map()));
  const worst =
    scopes.find((e) => e.scope === "public") ?? scopes.find((e) => e.scope === "loopback") ?? scopes[0];
  return { ...(worst as LinkEnd), address: `${address} (${ips.join(", ")})` };
}

const show = (e: LinkEnd) => `${e.node} ${e.address}${e.publicOf ? ` (${e.publicOf})` : ""}`;

/** PURE: one finding per corosync link (link0, link1, ...), naming the nodes whose address is wrong there. */
export function judgeLinks(conf: CorosyncConf, config: Pick<Config, "nodes">, resolved: Resolved): Finding[] {
  const byLink = new Map<number, LinkEnd[]>();
  for (const node of conf.nodes)
    for (const l of node.links) {
      const ends = byLink.get(l.link) ?? [];
      ends.push(endOf(node.name, l.address, config, resolved));
      byLink.set(l.link, ends);
    }
  const findings: Finding[] = [];
  for (const [link, ends] of [...byLink].sort((a, b) => a[0] - b[0])) {
    const pub = ends.filter((e) => e.scope === "public");
    const loop = conf.nodes.length > 1 ? ends.filter((e) => e.scope === "loopback") : [];
    const unresolved = ends.filter((e) => e.scope === "unresolved");
    const where = `corosync link${link}`;
    if (pub.length > 0) {
      findings.push(
        warn(
          "corosync",
          `${where} runs over public addresses: ${pub.map(show).join(", ")}`,
          `put link${link} on the private mesh: in /etc/pve/corosync.conf set each node's ring${link}_addr/link${link}_addr to its mesh address and raise totem.config_version (Proxmox VE admin guide, "Cluster Network"); corosync over the internet loses quorum on every latency spike`,
        ),
      );
    } else if (loop.length > 0) {
      findings.push(
        fail(
          "corosync",
          `${where} uses loopback addresses: ${loop.map(show).join(", ")}`,
          "no other node can reach a loopback address: use the node's mesh address",
        ),
      );
    } else if (unresolved.length > 0) {
      findings.push(
        warn(
          "corosync",
          `${where}: cannot resolve ${unresolved.map(show).join(", ")}`,
          "write the link addresses as IP addresses of the private mesh (corosync resolves names only at start)",
        ),
      );
    } else findings.push(ok("corosync", `${where} is private on every node (${ends.map(show).join(", ")})`));
  }
  if (byLink.size === 0 && conf.nodes.length > 0)
    findings.push(
      fail("corosync", "corosync.conf names no link address for any node", "check /etc/pve/corosync.conf"),
    );
  return findings;
}

/** PURE: votequorum's arithmetic: total votes, votes needed, and how many nodes may fail (largest first). */
export function quorumMath(conf: CorosyncConf): {
  total: number;
  needed: number;
  survives: number;
  device: number;
} {
  const nodeVotes = conf.nodes.map((n) => n.votes).sort((a, b) => b - a);
  const device = conf.quorum.device ? qdeviceVotes(conf.quorum.device, conf.nodes.length) : 0;
  const sum = nodeVotes.reduce((a, b) => a + b, 0) + device;
  const total = Math.max(sum, conf.quorum.expectedVotes ?? 0);
  // votequorum: two_node lets one of two nodes stay quorate alone.
  const needed = conf.quorum.twoNode && conf.nodes.length === 2 ? 1 : Math.floor(total / 2) + 1;
  let left = sum;
  let survives = 0;
  for (const v of nodeVotes.slice(0, -1)) {
    if (left - v < needed) break;
    left -= v;
    survives++;
  }
  return { total, needed, survives, device };
}

/** PURE: can the cluster lose a node and keep quorum? `status` (the API's view) adds who is online now. */
export function judgeQuorum(conf: CorosyncConf, status: ClusterStatusView | undefined): Finding[] {
  const n = conf.nodes.length;
  if (n < 2) return [];
  const { total, needed, survives, device } = quorumMath(conf);
  const d = conf.quorum.device;
  const qdevice = d
    ? ` + QDevice (${d.model ?? "?"}${d.algorithm ? `, ${d.algorithm}` : ""}, ${device} vote(s))`
    : "";
  const online = status
    ? `; ${status.nodes.filter((x) => x.online).length} of ${status.nodes.length} node(s) online`
    : "";
  const votes = `${n} nodes${qdevice}: ${total} votes, quorum needs ${needed}${online}`;
  const addQdevice =
    "add a QDevice on a third machine outside the cluster (apt install corosync-qnetd there, corosync-qdevice on every node, then pvecm qdevice setup <its address>)";
  if (conf.quorum.twoNode) {
    return [
      warn(
        "quorum",
        `two_node is set (${votes}): after a split each node may stay quorate alone and both start the same guests`,
        `remove two_node from /etc/pve/corosync.conf and ${addQdevice}`,
      ),
    ];
  }
  if (survives === 0) {
    const what = n === 2 && !d ? "two-node cluster without a QDevice" : "no node can fail";
    return [
      warn(
        "quorum",
        `${what} (${votes}): when any node fails the others lose quorum, /etc/pve turns read-only and no guest can start or move there`,
        addQdevice,
      ),
    ];
  }
  const missing = status
    ? conf.nodes.filter((c) => !status.nodes.some((s) => s.name === c.name)).map((c) => c.name)
    : [];
  if (missing.length > 0)
    return [
      warn(
        "quorum",
        `corosync.conf lists ${missing.join(", ")}, which /cluster/status does not (${votes})`,
        "remove departed nodes with pvecm delnode <name>",
      ),
    ];
  return [ok("quorum", `${votes}; survives losing ${survives} node(s)`)];
}

/** Path of corosync.conf under the pmxcfs root (config pveRoot: /etc/pve on a node, a temp dir in tests). */
export const corosyncConfPath = (config: Pick<Config, "pveRoot">) => join(config.pveRoot, "corosync.conf");

async function resolveNames(conf: CorosyncConf): Promise<Resolved> {
  const names = new Set(
    conf.nodes.flatMap((n) => n.links.map((l) => l.address)).filter((a) => addressScope(a) === "hostname"),
  );
  const out = new Map<string, string[]>();
  for (const name of names) {
    const all = await lookup(name, { all: true }).catch(() => []);
    out.set(
      name,
      all.map((a) => a.address),
    );
  }
  return out;
}

/** Reads corosync.conf (thin) and judges its links and quorum (pure). */
export async function checkCorosync(
  config: Pick<Config, "nodes" | "pveRoot">,
  status: ClusterStatusView | undefined,
): Promise<Finding[]> {
  const path = corosyncConfPath(config);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (errnoCode(err) === "ENOENT" && Object.keys(config.nodes).length < 2)
      return [ok("corosync", `no ${path}: a single node without a cluster`)];
    return [
      warn(
        "corosync",
        `cannot read ${path}: ${errnoCode(err) ?? messageOf(err)}`,
        "is this node in a cluster (pvecm status)? run doctor --cluster on a cluster node",
      ),
    ];
  }
  let conf: CorosyncConf;
  try {
    conf = parseCorosyncConf(text);
  } catch (err) {
    return [fail("corosync", `${path}: ${messageOf(err)}`, "corosync.conf must parse as Proxmox writes it")];
  }
  return [...judgeLinks(conf, config, await resolveNames(conf)), ...judgeQuorum(conf, status)];
}
