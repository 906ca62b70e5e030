import { SimError } from "./errors.ts";

// The simulated token's privileges, checked the way the real handlers do:
// /cluster/status needs Sys.Audit on / (pve-manager PVE/API2/Cluster.pm
// get_status); /cluster/resources silently skips guests without VM.Audit on
// /vms/<id> (Cluster.pm resources: `next if !$rpcenv->check(...)`); per-guest
// paths answer 403 "Permission check failed (<path>, <privilege>)";
// GET /access/permissions?path=P tells the effective privileges at P as
// { P: { privilege: propagate } }, the shape pve-manager's
// www/manager6/dc/PermissionView.js reads.

/** What an unrestricted PVE 9 token may do, as far as this tool asks (VM.Monitor is gone in 9). */
export const SIM_ALL_PRIVILEGES = [
  "Sys.Audit",
  "Sys.Modify",
  "VM.Audit",
  "VM.Migrate",
  "VM.PowerMgmt",
  "VM.Config.Options",
  "VM.GuestAgent.Audit",
];

export interface SimAccessOptions {
  /** Guests the token may not see: left out of /cluster/resources, 403 on their own paths. */
  hiddenVmids?: number[];
  /**
   * Privileges by ACL path, propagating down; the most specific listed path
   * wins, as a deeper ACL overrides an inherited one. Default: everything on /.
   */
  acl?: Record<string, string[]>;
}

export class SimAccess {
  readonly hiddenVmids: Set<number>;
  readonly acl: Record<string, string[]>;

  constructor(opts: SimAccessOptions = {}) {
    this.hiddenVmids = new Set(opts.hiddenVmids ?? []);
    this.acl = opts.acl ?? { "/": [...SIM_ALL_PRIVILEGES] };
  }

  /** Effective privileges at `path`. */
  privileges(path: string): string[] {
    const vm = /^\/vms\/(\d+)$/.exec(path);
    if (vm && this.hiddenVmids.has(Number(vm[1]))) return [];
    for (let p = path; ; p = p.slice(0, Math.max(p.lastIndexOf("/"), 1))) {
      const granted = this.acl[p];
      if (granted) return granted;
      if (p === "/") return [];
    }
  }

  can(path: string, privilege: string): boolean {
    return this.privileges(path).includes(privilege);
  }

  /** Throws the 403 the real permission check raises. */
  check(path: string, privilege: string): void {
    if (!this.can(path, privilege))
      throw new SimError(403, `Permission check failed (${path}, ${privilege})`);
  }

  /** GET /access/permissions: the given path, or every ACL path. */
  permissions(path: string | null): Record<string, Record<string, number>> {
    const paths = path ? [path] : Object.keys(this.acl);
    return Object.fromEntries(
      paths.map((p) => [p, Object.fromEntries(this.privileges(p).map((priv) => [priv, 1]))]),
    );
  }
}
