import { describe, expect, it } from "vitest";
import type { Config, VmConfig } from "../../lib/config/types.ts";
import type { ClaimRecord } from "../../lib/dns/claims.ts";
import { claimsKnown, claimsOf, withdrawalsDue } from "../../lib/orchestrate/name-claims.ts";

// PURE: which names reconcile withdraws. Only a name its VM no longer claims
// in the merged config, and only when that VM's claims are known in full.

const vm = (vmid: number, dns: string[], notesClaims?: string[]): VmConfig => ({
  vmid,
  ip: { kind: "static", address: `10.10.0.${vmid % 250}` },
  dns,
  forward: [],
  sni: [],
  http: [],
  nodes: [],
  ...(notesClaims ? { notesClaims } : {}),
});
const config = (vms: VmConfig[]): Pick<Config, "vms"> => ({
  vms: Object.fromEntries(vms.map((v) => [String(v.vmid), v])),
});

describe("claims of the merged config", () => {
  it("says which names came from a VM's Notes", () => {
    const claims = claimsOf(
      config([vm(101, ["mail.example.org"]), vm(103, ["shop.example.org"], ["shop.example.org"])]),
    );
    expect(Object.fromEntries(claims)).toEqual({
      "mail.example.org": { vmid: 101, origin: "file" },
      "shop.example.org": { vmid: 103, origin: "notes" },
    });
  });

  it("knows a VM's claims when it is visible on an online node and untagged or its Notes were read", () => {
    const snapshot = {
      nodes: [
        { name: "pve1", ip: "10.99.0.1", online: true, local: true },
        { name: "pve2", ip: "10.99.0.2", online: false, local: false },
      ],
      vms: [
        { vmid: 101, type: "qemu" as const, node: "pve1", status: "stopped", tags: [] },
        { vmid: 102, type: "qemu" as const, node: "pve1", status: "running", tags: ["pvemigrate-dns"] },
        { vmid: 103, type: "qemu" as const, node: "pve1", status: "running", tags: ["pvemigrate-dns"] },
        { vmid: 104, type: "qemu" as const, node: "pve2", status: "unknown", tags: [] },
      ],
    };
    expect([...claimsKnown(snapshot, new Set([103]), "pvemigrate-dns")].sort()).toEqual([101, 103]);
  });
});

describe("withdrawals due", () => {
  const held = (vmid: number, origin: ClaimRecord["origin"] = "notes"): ClaimRecord => ({ vmid, origin });
  const registry = new Map<string, ClaimRecord>([
    ["kept.example.org", held(101, "file")],
    ["cleared.example.org", held(103)],
    ["dropped.example.org", held(101, "file")],
    ["moved.example.org", held(101, "file")],
    ["hidden.example.org", held(105)],
    ["tomb.example.org", { vmid: 101, origin: "file", withdrawnAt: 5 }],
  ]);
  const claims = claimsOf(
    config([vm(101, ["kept.example.org"]), vm(102, ["moved.example.org"]), vm(103, [], [])]),
  );

  it("withdraws names their VM no longer claims, when its claims are known", () => {
    expect(withdrawalsDue(registry, claims, new Set([101, 102, 103]))).toEqual([
      { name: "cleared.example.org", vmid: 103 },
      { name: "dropped.example.org", vmid: 101 },
      { name: "moved.example.org", vmid: 101 },
    ]);
  });

  it("keeps the names of a VM the API does not show or whose Notes were not read", () => {
    expect(withdrawalsDue(registry, claims, new Set([101, 102]))).toEqual([
      { name: "dropped.example.org", vmid: 101 },
      { name: "moved.example.org", vmid: 101 },
    ]);
  });

  it("an empty registry (an upgrade from a version without it) withdraws nothing", () => {
    expect(withdrawalsDue(new Map(), claims, new Set([101, 102, 103, 105]))).toEqual([]);
  });
});
