import { describe, expect, it } from "vitest";
import { vmsToSwitch } from "../../lib/orchestrate/switch-due.ts";

// Which VMs reconcile on pve2 switches to itself: pure, no state files.

describe("vmsToSwitch on pve2", () => {
  it.each([
    {
      what: "last switched elsewhere: switched",
      vm: { node: "pve2", status: "running" },
      last: "pve1",
      due: [101],
    },
    {
      what: "never switched (offline migration, HA): switched",
      vm: { node: "pve2", status: "running" },
      last: undefined,
      due: [101],
    },
    { what: "already switched here: left", vm: { node: "pve2", status: "running" }, last: "pve2", due: [] },
    { what: "runs elsewhere: not ours", vm: { node: "pve1", status: "running" }, last: "pve1", due: [] },
    {
      what: "stopped here: nothing to switch",
      vm: { node: "pve2", status: "stopped" },
      last: "pve1",
      due: [],
    },
  ])("$what", ({ vm, last, due }) => {
    const lastApplied = last === undefined ? [] : [{ vmid: 101, node: last }];
    expect(vmsToSwitch("pve2", [{ vmid: 101, ...vm }], lastApplied)).toEqual(due);
  });

  it("lists several in VMID order", () => {
    const here = [105, 101, 103].map((vmid) => ({ vmid, node: "pve2", status: "running" }));
    expect(vmsToSwitch("pve2", here, [{ vmid: 103, node: "pve2" }])).toEqual([101, 105]);
  });
});
