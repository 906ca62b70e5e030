// What `doctor` reports: one finding per thing checked, each a single line
// with a fix hint. Plain data, so --json prints it as it is.

export type FindingStatus = "ok" | "warn" | "fail";

/** Every check's name, in one place: a report read back from another node is checked against it. */
export const CHECK_NAMES = [
  "config",
  "node",
  "proxmox",
  "privileges",
  "quorum",
  "dns",
  "dns-update",
  "clock",
  "corosync",
  "ip-forward",
  "timer",
  "version",
  "cluster",
  "nft",
  "nftables.service",
  "proxy",
  "journal",
  "hookscript",
  "hookscript-file",
  "notes",
] as const;

/**
 * Which check produced a finding. "config" and "node" failures are the
 * operator's input (exit 1); every other failure is a peer or the node's
 * setup (exit 2).
 */
export type CheckName = (typeof CHECK_NAMES)[number];

export interface Finding {
  check: CheckName;
  status: FindingStatus;
  /** What was found, naming the thing checked (endpoint, master, file, VM). */
  message: string;
  /** How to fix it; absent on ok findings that need nothing. */
  hint?: string;
  /** `doctor --cluster`: the nodes that reported it (the message then starts with them). */
  nodes?: string[];
}

export interface DoctorReport {
  /** The node the checks acted as; absent when the config did not load. */
  node?: string;
  findings: Finding[];
  summary: Record<FindingStatus, number>;
  /** `doctor --cluster`: every node asked, this one first. */
  nodes?: string[];
  /** This pvemigrate-dns's version (compared across nodes by `doctor --cluster`). */
  version?: string;
  /** 0 no failure, 1 a config problem, 2 a peer or setup check failed. */
  exitCode: 0 | 1 | 2;
}

export const ok = (check: CheckName, message: string): Finding => ({ check, status: "ok", message });
export const warn = (check: CheckName, message: string, hint: string): Finding => ({
  check,
  status: "warn",
  message,
  hint,
});
export const fail = (check: CheckName, message: string, hint: string): Finding => ({
  check,
  status: "fail",
  message,
  hint,
});
