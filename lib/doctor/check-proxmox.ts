import { createProxmoxClient, ProxmoxApiError } from "../cluster/index.ts";
import { parseClusterStatus } from "../cluster/snapshot.ts";
import type { SnapshotNode } from "../cluster/types.ts";
import type { Secret } from "../config/secret.ts";
import type { ProxmoxConfig } from "../config/types.ts";
import { InputError, messageOf } from "../errors.ts";
import { type Finding, fail, ok } from "./types.ts";

// Each configured endpoint on its own (the normal client fails over and
// would hide a dead one), then quorum and this node's membership from the
// first endpoint that answered.

export interface ClusterStatusView {
  quorate: boolean;
  nodes: SnapshotNode[];
}

type EndpointResult =
  | { endpoint: string; ok: true; status: ClusterStatusView }
  | { endpoint: string; ok: false; finding: Finding };

function hintFor(err: unknown, tokenFile: string): string {
  if (err instanceof ProxmoxApiError && err.status !== undefined) {
    if (err.status === 401)
      return `the API token was refused: check proxmox.tokenId and the secret in ${tokenFile} (pveum user token list <user>)`;
    if (err.status === 403)
      return "the token lacks privileges (GET /cluster/status needs Sys.Audit on /): give it the PVEMigrateDNS role on / (pveum acl modify / --roles PVEMigrateDNS --tokens <tokenId>; docs/PERMISSIONS.md)";
    if (err.status >= 500)
      return "the node behind this endpoint has trouble: check pveproxy and pve-cluster there";
    return "unexpected answer: is this a Proxmox VE API endpoint?";
  }
  const text = messageOf(err);
  if (/TLS|certificate|fingerprint/i.test(text))
    return "TLS verification failed: check proxmox.caFile (/etc/pve/pve-root-ca.pem; `system` plus proxmox.serverName for a custom or ACME certificate) or proxmox.fingerprint; see docs/PERMISSIONS.md";
  return "cannot reach the API: is pveproxy running there, and is the URL (https://host:8006) right?";
}

/** The client's message names the endpoint (we add it when a lower layer did not); its token hint moves to our hint. */
function describe(err: unknown, endpoint: string): string {
  const text = messageOf(err).replace(/ \(check proxmox\.tokenId[^)]*\)/, "");
  return text.includes(endpoint.replace(/\/+$/, "")) ? text : `${endpoint} GET /cluster/status: ${text}`;
}

async function probe(proxmox: ProxmoxConfig, endpoint: string, tokenSecret: Secret): Promise<EndpointResult> {
  try {
    // One client per endpoint: a failure is that endpoint's, not hidden by failover.
    const client = createProxmoxClient({ proxmox: { ...proxmox, endpoints: [endpoint] }, tokenSecret });
    const status = parseClusterStatus(await client.request("GET", "/cluster/status"));
    return { endpoint, ok: true, status };
  } catch (err) {
    if (err instanceof InputError) {
      return { endpoint, ok: false, finding: fail("config", messageOf(err), "fix the proxmox section") };
    }
    return {
      endpoint,
      ok: false,
      finding: fail("proxmox", describe(err, endpoint), hintFor(err, tokenSecret.file)),
    };
  }
}

export async function checkProxmox(
  proxmox: ProxmoxConfig,
  tokenSecret: Secret,
  self: string,
): Promise<{ findings: Finding[]; reachable: boolean; status?: ClusterStatusView }> {
  const results = await Promise.all(proxmox.endpoints.map((ep) => probe(proxmox, ep, tokenSecret)));
  const findings: Finding[] = results.map((r) =>
    r.ok
      ? ok("proxmox", `${r.endpoint} answers /cluster/status (${r.status.nodes.length} node(s))`)
      : r.finding,
  );
  const first = results.find((r) => r.ok);
  if (!first?.ok) return { findings, reachable: false };
  const { status } = first;
  findings.push(
    status.quorate
      ? ok("quorum", "cluster is quorate")
      : fail(
          "quorum",
          "cluster is NOT quorate: /etc/pve is read-only, migrations and locks cannot work",
          "check corosync and the mesh between nodes (pvecm status)",
        ),
  );
  const me = status.nodes.find((n) => n.name === self);
  if (!me) {
    findings.push(
      fail(
        "node",
        `node ${self} is not a member of the cluster (members: ${status.nodes.map((n) => n.name).join(", ")})`,
        "the config's node names and --node must be the Proxmox node names",
      ),
    );
  } else if (!me.online) {
    findings.push(
      fail("proxmox", `the cluster reports node ${self} offline`, "check pve-cluster/corosync on this node"),
    );
  } else findings.push(ok("proxmox", `node ${self} is online in the cluster`));
  return { findings, reachable: true, status };
}
