// PURE: which privileges the API token needs where, and what a missing one
// breaks. The same lists are in docs/PERMISSIONS.md. Checked against the
// Proxmox source:
// - GET /cluster/status: Sys.Audit on / (pve-manager PVE/API2/Cluster.pm get_status)
// - GET /cluster/resources: lists a guest only with VM.Audit on /vms/<id> (Cluster.pm resources)
// - guest config, status/current, LXC interfaces: VM.Audit on /vms/<id>
//   (qemu-server PVE/API2/Qemu.pm vm_config, vm_status; pve-container PVE/API2/LXC.pm ip)
// - POST .../migrate: VM.Migrate on /vms/<id> (Qemu.pm migrate_vm)
// - agent network-get-interfaces: VM.Monitor on PVE 8, VM.GuestAgent.Audit on
//   PVE 9 (qemu-server PVE/API2/Qemu/Agent.pm register_command, commit b92a40ce
//   "api: agent: use more specific guest agent privileges"; pve-manager
//   PVE/CLI/pve8to9.pm warns about roles still using VM.Monitor)
// - task list/status/log of another user's task (HA's qmigrate runs as
//   root@pam): Sys.Audit on /nodes/<node> (pve-manager PVE/API2/Tasks.pm
//   node_tasks, read_task_status, read_task_log); without it the list silently
//   leaves those tasks out.

export type PveMajor = 8 | 9;

export const ROLE_NAME = "PVEMigrateDNS";

/** The privilege that reads a VM's guest agent. */
export function agentPrivilege(major: PveMajor): string {
  return major === 8 ? "VM.Monitor" : "VM.GuestAgent.Audit";
}

/** The role docs/PERMISSIONS.md creates, per major version. */
export function rolePrivileges(major: PveMajor): string[] {
  return ["Sys.Audit", "VM.Audit", "VM.Migrate", agentPrivilege(major)];
}

/** "9.0.3" / "8.4-1" (GET /version `version` or `release`) -> 9 / 8; undefined for anything else. */
export function parsePveMajor(version: string): PveMajor | undefined {
  const major = Number(/^(\d+)[.-]/.exec(version)?.[1]);
  return major === 8 || major === 9 ? major : major > 9 ? 9 : undefined;
}

export interface PrivilegeNeed {
  path: string;
  privilege: string;
  /** What breaks without it. */
  for: string;
  /** false: only one command needs it (a warning, not a failure). */
  required: boolean;
}

export interface NeedsInput {
  nodes: readonly string[];
  /** Configured VMs; `agent`: its address comes from the QEMU guest agent. */
  vms: ReadonlyArray<{ vmid: number; agent: boolean }>;
}

export function privilegeNeeds(major: PveMajor, input: NeedsInput): PrivilegeNeed[] {
  const needs: PrivilegeNeed[] = [
    {
      path: "/",
      privilege: "Sys.Audit",
      for: "cluster status and quorum (GET /cluster/status)",
      required: true,
    },
  ];
  for (const node of input.nodes) {
    needs.push({
      path: `/nodes/${node}`,
      privilege: "Sys.Audit",
      for: "tasks of other users, e.g. HA migrations run as root@pam (task list, status, log)",
      required: true,
    });
  }
  for (const vm of input.vms) {
    const path = `/vms/${vm.vmid}`;
    needs.push({
      path,
      privilege: "VM.Audit",
      for: "seeing the guest at all: /cluster/resources silently leaves it out without it",
      required: true,
    });
    if (vm.agent) {
      needs.push({
        path,
        privilege: agentPrivilege(major),
        for: "its address from the guest agent (ip: agent)",
        required: true,
      });
    }
    needs.push({ path, privilege: "VM.Migrate", for: "`pvemigrate-dns migrate`", required: false });
  }
  return needs;
}

/** The needs `effective` (path -> privileges the token has there) does not cover. */
export function missingNeeds(
  needs: readonly PrivilegeNeed[],
  effective: ReadonlyMap<string, ReadonlySet<string>>,
): PrivilegeNeed[] {
  return needs.filter((n) => !effective.get(n.path)?.has(n.privilege));
}

/** Missing needs grouped per privilege and purpose: one finding each, listing the paths. */
export function groupMissing(
  missing: readonly PrivilegeNeed[],
): Array<{ privilege: string; for: string; required: boolean; paths: string[] }> {
  const groups = new Map<string, { privilege: string; for: string; required: boolean; paths: string[] }>();
  for (const n of missing) {
    const key = `${n.privilege}\u0000${n.for}`;
    const group = groups.get(key) ?? { privilege: n.privilege, for: n.for, required: n.required, paths: [] };
    group.paths.push(n.path);
    groups.set(key, group);
  }
  return [...groups.values()];
}

/** The pveum commands that give the token the role on / (docs/PERMISSIONS.md). */
export function pveumFix(major: PveMajor, tokenId: string): string {
  const privs = rolePrivileges(major).join(" ");
  return (
    `pveum role add ${ROLE_NAME} --privs "${privs}" (or role modify), then ` +
    `pveum acl modify / --roles ${ROLE_NAME} --tokens '${tokenId}' (PVE ${major}; see docs/PERMISSIONS.md)`
  );
}
