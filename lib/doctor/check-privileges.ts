import { z } from "zod";
import { ProxmoxApiError, type ProxmoxClient } from "../cluster/client.ts";
import { parseResources } from "../cluster/snapshot.ts";
import type { SnapshotVm } from "../cluster/types.ts";
import { missingConfiguredVms } from "../cluster/visibility.ts";
import type { Config } from "../config/types.ts";
import { messageOf } from "../errors.ts";
import {
  agentPrivilege,
  groupMissing,
  missingNeeds,
  type PveMajor,
  parsePveMajor,
  privilegeNeeds,
  pveumFix,
  rolePrivileges,
} from "./privileges.ts";
import { type Finding, fail, ok, warn } from "./types.ts";

// Probes each privilege the token needs (privileges.ts): the effective
// privileges per path from GET /access/permissions?path=P (a token may always
// ask for its own), then what they cause: configured VMs /cluster/resources
// does not list, and each agent VM's guest agent query, where a 403 (missing
// privilege) is told apart from "QEMU guest agent is not running". VM.Migrate
// cannot be probed without migrating: only the permissions answer tells.

const versionAnswer = z.object({ version: z.string(), release: z.string().optional() });
// { "<path>": { "<privilege>": 1|0 (propagate) } }
const permissionsAnswer = z.record(z.string(), z.record(z.string(), z.unknown()));

async function pveMajor(client: ProxmoxClient): Promise<{ major: PveMajor; guessed?: string }> {
  try {
    const v = versionAnswer.parse(await client.request("GET", "/version"));
    const major = parsePveMajor(v.release ?? v.version) ?? parsePveMajor(v.version);
    return major
      ? { major }
      : { major: 9, guessed: `unknown version ${JSON.stringify(v.version.slice(0, 20))}` };
  } catch (err) {
    return { major: 9, guessed: messageOf(err) };
  }
}

async function effectivePrivileges(
  client: ProxmoxClient,
  paths: string[],
): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  for (const path of paths) {
    const answer = permissionsAnswer.parse(await client.request("GET", "/access/permissions", { path }));
    out.set(path, new Set(Object.keys(answer[path] ?? {})));
  }
  return out;
}

/** One guest agent query: ok, refused (403: privilege), or the agent is not there. */
async function probeAgent(
  client: ProxmoxClient,
  vm: SnapshotVm,
  privilege: string,
): Promise<Finding | undefined> {
  const path = `/nodes/${encodeURIComponent(vm.node)}/qemu/${vm.vmid}/agent/network-get-interfaces`;
  try {
    await client.request("GET", path);
    return undefined;
  } catch (err) {
    if (err instanceof ProxmoxApiError && err.status === 403)
      return fail(
        "privileges",
        `VM ${vm.vmid}: the guest agent query was refused (403): the token lacks ${privilege} on /vms/${vm.vmid}`,
        `grant ${privilege} (docs/PERMISSIONS.md); without it ip: agent finds no address`,
      );
    const text = messageOf(err);
    if (/guest agent is not running|No QEMU guest agent configured/i.test(text))
      return warn(
        "privileges",
        `VM ${vm.vmid}: allowed to ask its guest agent, but the agent does not answer (${text.replace(/^.*: /, "")})`,
        `install and start qemu-guest-agent in the guest and run qm set ${vm.vmid} --agent enabled=1`,
      );
    return warn("privileges", `VM ${vm.vmid}: guest agent query failed: ${text}`, "see the message");
  }
}

export async function checkPrivileges(client: ProxmoxClient, config: Config): Promise<Finding[]> {
  const findings: Finding[] = [];
  const { major, guessed } = await pveMajor(client);
  if (guessed)
    findings.push(
      warn("privileges", `cannot tell the PVE version (${guessed}); assuming PVE 9`, "check GET /version"),
    );
  const visible = parseResources(await client.request("GET", "/cluster/resources", { type: "vm" }));
  const byVmid = new Map(visible.map((vm) => [vm.vmid, vm]));
  const configured = Object.values(config.vms);
  const needs = privilegeNeeds(major, {
    nodes: Object.keys(config.nodes),
    vms: configured.map((vm) => ({
      vmid: vm.vmid,
      agent: vm.ip.kind === "agent" && byVmid.get(vm.vmid)?.type !== "lxc",
    })),
  });
  let effective: Map<string, Set<string>>;
  try {
    effective = await effectivePrivileges(client, [...new Set(needs.map((n) => n.path))]);
  } catch (err) {
    findings.push(
      warn(
        "privileges",
        `cannot read the token's privileges (GET /access/permissions: ${messageOf(err)})`,
        pveumFix(major, config.proxmox.tokenId),
      ),
    );
    return findings;
  }
  const missing = groupMissing(missingNeeds(needs, effective));
  for (const g of missing) {
    const message = `the API token lacks ${g.privilege} on ${g.paths.join(", ")}: needed for ${g.for}`;
    const hint = pveumFix(major, config.proxmox.tokenId);
    findings.push(g.required ? fail("privileges", message, hint) : warn("privileges", message, hint));
  }
  if (missing.length === 0)
    findings.push(
      ok(
        "privileges",
        `the API token has every privilege it needs (PVE ${major}: ${rolePrivileges(major).join(", ")})`,
      ),
    );
  for (const vmid of missingConfiguredVms(Object.keys(config.vms), { vms: visible })) {
    if (effective.get(`/vms/${vmid}`)?.has("VM.Audit"))
      findings.push(
        warn(
          "privileges",
          `VM ${vmid} is configured but not in the cluster although the token may see it`,
          "destroyed or not created yet? remove it from the config",
        ),
      );
  }
  for (const vm of configured) {
    const seen = byVmid.get(vm.vmid);
    if (vm.ip.kind !== "agent" || seen?.type !== "qemu" || seen.status !== "running") continue;
    const finding = await probeAgent(client, seen, agentPrivilege(major));
    if (finding) findings.push(finding);
  }
  return findings;
}
