import { hostname } from "node:os";
import { afterEach, describe, expect, it, vi } from "vitest";
import { localNodeName } from "../../lib/node-name.ts";
import { currentHolder } from "../../lib/state/holder.ts";

// A lock names the node that holds it with the same node name the rest of the
// tool acts as, PVEMIGRATE_DNS_NODE included (the demo and tests run several
// nodes on one host), so "held by node X" in a timeout names the right node.
describe("lock holder's node name", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("is the short hostname without an override (pve-common INotify nodename)", () => {
    vi.stubEnv("PVEMIGRATE_DNS_NODE", "");
    expect(currentHolder().node).toBe(hostname().split(".")[0]);
  });

  it("is PVEMIGRATE_DNS_NODE when set, the name the hook and runtime use", () => {
    vi.stubEnv("PVEMIGRATE_DNS_NODE", "pve-b");
    expect(localNodeName()).toBe("pve-b");
    expect(currentHolder().node).toBe("pve-b");
  });
});
