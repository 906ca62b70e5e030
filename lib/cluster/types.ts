// Plain, JSON-able data read from the Proxmox API. The snapshot is the input of
// the pure `desired` module, so it carries no methods, no Dates, no class
// instances: it can be printed with --json and stored as a fixture.

export type GuestType = "qemu" | "lxc";

export interface SnapshotNode {
  name: string;
  /** The node's cluster (corosync) address as /cluster/status reports it. */
  ip: string;
  online: boolean;
  /** True for the node that answered the request (the node we run on, when the endpoint is local). */
  local: boolean;
}

export interface SnapshotVm {
  vmid: number;
  type: GuestType;
  node: string;
  /**
   * "running" (a process exists, whatever its QMP state: see `qmpstatus`),
   * "stopped", or "unknown" (no status known). From /cluster/resources, this
   * lags: Proxmox refreshes it every ~10 s and keeps a dead node's last one
   * for minutes. Decisions about one guest use its live status (live.ts).
   */
  status: string;
  /** The QMP state when it is not plain "running": paused, suspended, io-error, postmigrate, ... */
  qmpstatus?: string;
  /** Set while Proxmox holds a lock on the guest: "migrate", "backup", "snapshot", ... */
  lock?: string;
  /** Set for HA-managed guests: "started", "stopped", "migrate", "relocate", "fence", "error", ... */
  hastate?: string;
  name?: string;
  tags: string[];
  template?: boolean;
}

export interface ClusterSnapshot {
  quorate: boolean;
  nodes: SnapshotNode[];
  vms: SnapshotVm[];
  /** Epoch ms when the snapshot was taken. */
  takenAt: number;
}

/** A Proxmox task id, parsed. */
export interface Upid {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  /** Epoch seconds. */
  starttime: number;
  type: string;
  id: string;
  user: string;
}

/** GET /nodes/{n}/tasks/{upid}/status, the fields we use. */
export interface TaskStatus {
  upid: string;
  status: "running" | "stopped";
  /** "OK", "WARNINGS: n", or the error text; set once stopped. */
  exitstatus?: string;
}

/** What a migration reports while it runs, for a progress display. */
export type MigrateProgress =
  | { kind: "submitted"; upid: string; taskType: string }
  | { kind: "ha-queued"; upid: string }
  | { kind: "task-started"; upid: string; node: string }
  | { kind: "log"; upid: string; line: string }
  | { kind: "finished"; upid: string; exitstatus: string };

export interface MigrateResult {
  ok: boolean;
  /** The UPID the POST returned (an `hamigrate` for HA-managed guests). */
  upid: string;
  /** The real `qmigrate`/`vzmigrate` task when the POST only queued an HA request. */
  realUpid?: string;
  exitstatus: string;
  /** The task's error text (exit status and the ERROR lines of its log) when ok is false. */
  error?: string;
}

/** Where a guest came from and how we know. */
export interface MigrationSource {
  from: string;
  via: "env" | "task" | "record";
  upid?: string;
}
