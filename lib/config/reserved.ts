import type { PortRange, Proto } from "./types.ts";

// The ports a Proxmox node listens on itself. A forward (DNAT on the node's
// public address) on one of them would hand the node's sshd, API or cluster
// traffic to a VM, so no VM may claim them. Kept free of the schema library:
// the cross-check runs on the hook's fast path too (Notes merging).

const WELL_KNOWN: ReadonlyArray<PortRange & { service: string }> = [
  { proto: "tcp", from: 22, to: 22, service: "sshd" },
  { proto: "tcp", from: 8006, to: 8006, service: "pveproxy" },
  { proto: "tcp", from: 3128, to: 3128, service: "spiceproxy" },
  { proto: "tcp", from: 111, to: 111, service: "rpcbind" },
  { proto: "udp", from: 111, to: 111, service: "rpcbind" },
  { proto: "udp", from: 5405, to: 5412, service: "corosync" },
];

export const portRangeText = (r: PortRange): string =>
  r.from === r.to ? `${r.proto}/${r.from}` : `${r.proto}/${r.from}-${r.to}`;

/** The default of `reservedPorts`, in the file's syntax. */
export const DEFAULT_RESERVED_PORTS: readonly string[] = WELL_KNOWN.map(portRangeText);

const covers = (r: PortRange, proto: Proto, port: number) =>
  r.proto === proto && r.from <= port && port <= r.to;

/** The reserved entry covering proto/port, if any. */
export function reservedEntry(
  reserved: readonly PortRange[],
  proto: Proto,
  port: number,
): PortRange | undefined {
  return reserved.find((r) => covers(r, proto, port));
}

/** What listens there, for messages: "sshd" for tcp/22; otherwise the entry as written. */
export function reservedLabel(entry: PortRange, proto: Proto, port: number): string {
  const known = WELL_KNOWN.find((w) => covers(w, proto, port));
  return known?.service ?? portRangeText(entry);
}
