import { describe, expect, it } from "vitest";
import type { Departure, VmPlacement } from "../../lib/desired/compute.ts";
import { unrecordedDepartures } from "../../lib/orchestrate/departures-due.ts";
import type { LastApplied } from "../../lib/state/last-applied.ts";

// Which departures a node's convergence records: pure, no state files.

const NOW = Date.parse("2026-01-01T12:00:00Z");
const SWITCHED = "2026-01-01T11:00:00.000Z";
const last = (vmid: number, node: string, ip = `10.10.1.${vmid}`): LastApplied => ({
  vmid,
  node,
  privateIPs: ip ? [ip] : [],
  publicIPs: [],
  names: [],
  appliedAt: SWITCHED,
});
const running = (vmid: number, node: string): VmPlacement => ({ vmid, node, status: "running" });
const departure = (vmid: number, leftAt: number): Departure => ({
  vmid,
  node: "pve1",
  ip: "10.10.1.101",
  leftAt,
});

describe("unrecordedDepartures from pve1", () => {
  it.each([
    {
      what: "a VM last switched here that runs on pve2 now: recorded, leaving now",
      placements: [running(101, "pve2")],
      lastApplied: [last(101, "pve1")],
      recorded: [],
      due: [{ vmid: 101, node: "pve1", ip: "10.10.1.101", leftAt: NOW }],
    },
    {
      what: "a VM still here: nothing",
      placements: [running(101, "pve1")],
      lastApplied: [last(101, "pve1")],
      recorded: [],
      due: [],
    },
    {
      what: "a VM last switched to another node: not ours to record",
      placements: [running(101, "pve2")],
      lastApplied: [last(101, "pve3")],
      recorded: [],
      due: [],
    },
    {
      what: "a stopped VM elsewhere: nothing to forward to",
      placements: [{ vmid: 101, node: "pve2", status: "stopped" }],
      lastApplied: [last(101, "pve1")],
      recorded: [],
      due: [],
    },
    {
      what: "already recorded since the switch here: its grace period keeps running",
      placements: [running(101, "pve2")],
      lastApplied: [last(101, "pve1")],
      recorded: [departure(101, Date.parse(SWITCHED) + 1000)],
      due: [],
    },
    {
      what: "recorded only before the switch here (an earlier stay): recorded again",
      placements: [running(101, "pve2")],
      lastApplied: [last(101, "pve1")],
      recorded: [departure(101, Date.parse(SWITCHED) - 1000)],
      due: [{ vmid: 101, node: "pve1", ip: "10.10.1.101", leftAt: NOW }],
    },
    {
      what: "with the IPv6 it forwarded to (ip6: agent, discovered): the departure carries it",
      placements: [running(101, "pve2")],
      lastApplied: [{ ...last(101, "pve1"), privateIPv6: "fd10:10::101" }],
      recorded: [],
      due: [{ vmid: 101, node: "pve1", ip: "10.10.1.101", ip6: "fd10:10::101", leftAt: NOW }],
    },
    {
      what: "no private IP known: nothing to forward to",
      placements: [running(101, "pve2")],
      lastApplied: [last(101, "pve1", "")],
      recorded: [],
      due: [],
    },
  ])("$what", ({ placements, lastApplied, recorded, due }) => {
    expect(unrecordedDepartures("pve1", placements, lastApplied, recorded, NOW)).toEqual(due);
  });
});
