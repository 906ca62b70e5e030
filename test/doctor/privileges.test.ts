import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createProxmoxClient } from "../../lib/cluster/client.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { Secret } from "../../lib/config/secret.ts";
import type { Config } from "../../lib/config/types.ts";
import { checkPrivileges } from "../../lib/doctor/check-privileges.ts";
import {
  missingNeeds,
  parsePveMajor,
  privilegeNeeds,
  pveumFix,
  rolePrivileges,
} from "../../lib/doctor/privileges.ts";
import { SIM_ALL_PRIVILEGES, SimAccess } from "../../lib/sim/access.ts";
import type { SimCluster } from "../../lib/sim/cluster.ts";
import { type SimFixture, startSimFixture } from "../support/sim-fixture.ts";

// doctor probes each privilege the token needs: PVE 8 reads the guest agent
// with VM.Monitor, PVE 9 with VM.GuestAgent.Audit (qemu-server
// PVE/API2/Qemu/Agent.pm, commit b92a40ce); tasks of root@pam (HA) need
// Sys.Audit on /nodes/<node> (pve-manager PVE/API2/Tasks.pm); a guest without
// VM.Audit is silently missing from /cluster/resources (PVE/API2/Cluster.pm).

describe("privilege needs (pure)", () => {
  it.each([
    ["9.0.3", 9],
    ["8.4-1", 8],
    ["8.2.4", 8],
    ["10.0", 9],
    ["7.4-3", undefined],
    ["sim", undefined],
  ])("PVE version %s -> major %s", (version, major) => {
    expect(parsePveMajor(version)).toBe(major);
  });

  it("the role reads the guest agent with VM.Monitor on PVE 8 and VM.GuestAgent.Audit on PVE 9", () => {
    expect(rolePrivileges(8)).toEqual(["Sys.Audit", "VM.Audit", "VM.Migrate", "VM.Monitor"]);
    expect(rolePrivileges(9)).toEqual(["Sys.Audit", "VM.Audit", "VM.Migrate", "VM.GuestAgent.Audit"]);
  });

  it("needs Sys.Audit on / and each node, VM.Audit on each VM, the agent privilege only for agent VMs", () => {
    const needs = privilegeNeeds(8, {
      nodes: ["pve1", "pve2"],
      vms: [
        { vmid: 101, agent: true },
        { vmid: 102, agent: false },
      ],
    });
    const granted = new SimAccess({ acl: { "/": rolePrivileges(8) } });
    const all = new Map(needs.map((n) => [n.path, new Set(granted.privileges(n.path))]));
    expect(missingNeeds(needs, all)).toEqual([]);
    const pve9Role = new SimAccess({ acl: { "/": rolePrivileges(9) } });
    const on9 = new Map(needs.map((n) => [n.path, new Set(pve9Role.privileges(n.path))]));
    // The PVE 9 role on a PVE 8 cluster lacks VM.Monitor for the agent VM only.
    expect(missingNeeds(needs, on9).map((n) => `${n.privilege} ${n.path}`)).toEqual(["VM.Monitor /vms/101"]);
  });

  it("the fix names the role, the token and the privileges of that version", () => {
    expect(pveumFix(9, "pvemigrate@pve!dns")).toBe(
      'pveum role add PVEMigrateDNS --privs "Sys.Audit VM.Audit VM.Migrate VM.GuestAgent.Audit" (or role modify), ' +
        "then pveum acl modify / --roles PVEMigrateDNS --tokens 'pvemigrate@pve!dns' (PVE 9; see docs/PERMISSIONS.md)",
    );
  });
});

describe("doctor's privilege probe against the simulated API", () => {
  let world: SimFixture;
  let sim: SimCluster;
  let config: Config;
  const probe = () =>
    checkPrivileges(
      createProxmoxClient({ proxmox: config.proxmox, tokenSecret: new Secret(sim.tokenSecret, "sim-token") }),
      config,
    );
  beforeAll(async () => {
    world = await startSimFixture([
      { vmid: 101, node: "pve1" },
      { vmid: 102, node: "pve2" },
    ]);
    sim = world.sim;
    world.doc.vms["101"].ip = "agent";
    config = (await loadConfig(world.fx.write(world.doc))).config;
  });
  afterAll(async () => world?.stop());
  afterEach(() => {
    sim.state.access = new SimAccess();
  });

  it("an unrestricted token: ok, and a running VM without an agent is a warning, not a privilege problem", async () => {
    const f = await probe();
    expect(f.map((x) => x.status)).toEqual(["ok", "warn"]);
    expect(f[0]!.message).toContain("every privilege it needs (PVE 9");
    expect(f[1]!.message).toContain("VM 101: allowed to ask its guest agent, but the agent does not answer");
    expect(f[1]!.hint).toContain("qm set 101 --agent enabled=1");
  });

  it("names each missing privilege with its paths and the pveum fix; a hidden VM is named with VM.Audit", async () => {
    sim.state.access = new SimAccess({
      acl: { "/": ["Sys.Audit", "VM.Audit"], "/nodes": [] },
      hiddenVmids: [102],
    });
    const f = await probe();
    const fails = f.filter((x) => x.status === "fail").map((x) => x.message);
    expect(fails).toEqual([
      expect.stringContaining("lacks Sys.Audit on /nodes/pve1, /nodes/pve2: needed for tasks of other users"),
      expect.stringContaining(
        "lacks VM.GuestAgent.Audit on /vms/101: needed for its address from the guest agent",
      ),
      expect.stringContaining("lacks VM.Audit on /vms/102: needed for seeing the guest at all"),
      "VM 101: the guest agent query was refused (403): the token lacks VM.GuestAgent.Audit on /vms/101",
    ]);
    const migrate = f.find((x) => x.message.includes("VM.Migrate"));
    expect(migrate).toMatchObject({ status: "warn", message: expect.stringContaining("/vms/101, /vms/102") });
    expect(f[0]!.hint).toContain(`--tokens '${sim.tokenId}'`);
  });

  it("a configured VM missing although the token may see it is reported as destroyed, not as a privilege", async () => {
    sim.state.access = new SimAccess({ acl: { "/": [...SIM_ALL_PRIVILEGES] } });
    sim.state.vms.delete(102);
    const f = await probe();
    expect(
      f.filter((x) => x.status !== "ok" && !x.message.includes("guest agent")).map((x) => x.message),
    ).toEqual(["VM 102 is configured but not in the cluster although the token may see it"]);
  });
});
