import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { chainFile } from "../../lib/hookscripts/chain-record.ts";
import { type HooksWorld, OURS, startHooksWorld } from "./fixture.ts";

// `pvemigrate-dns hooks` as an admin runs it: the built CLI against the
// simulated cluster, with fake qm/pct recording their argv and the node they
// ran on. Guests: 101 (qemu, pve1, none), 102 (qemu, pve2, none), 103 (lxc,
// pve1, none), 104 (qemu, pve1, another hookscript), 105 (pve3, not
// configured).

const BACKUP = "local:snippets/backup.sh";

describe("hooks attach|detach|status", () => {
  let w: HooksWorld;
  const config = (vmid: number) => w.sim.state.vm(vmid).config;
  /** The command's result: `data` of its JSON envelope. */
  const json = (stdout: string) => JSON.parse(stdout).data;

  beforeAll(async () => {
    w = await startHooksWorld(
      [
        { vmid: 101, node: "pve1" },
        { vmid: 102, node: "pve2" },
        { vmid: 103, node: "pve1", type: "lxc" },
        { vmid: 104, node: "pve1", config: { name: "db", hookscript: BACKUP } },
        { vmid: 105, node: "pve3" },
      ],
      [101, 102, 103, 104],
    );
    w.putSnippet("pve1", "backup.sh", "#!/bin/sh\nexit 0\n");
  }, 60_000);
  afterAll(async () => w?.stop());
  beforeEach(() => {
    // Each test starts from the guests' original hookscripts, no chain, no failures.
    for (const id of [101, 102, 103]) delete config(id).hookscript;
    config(104).hookscript = BACKUP;
    rmSync(chainFile(w.pveRoot, 104), { force: true });
    w.failFor([]);
  });

  it("attach --all refuses while a guest has another hookscript, naming it and --chain, and runs nothing", async () => {
    const before = w.calls().length;
    const r = await w.cli("pve1", ["hooks", "attach", "--all"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`VM 104 has another hookscript, "${BACKUP}": not replaced (--chain keeps it`);
    expect(r.stderr).toContain("nothing changed");
    expect(w.calls().slice(before)).toEqual([]);
  });

  it("attach runs qm/pct set --hookscript as root on each guest's node: here, and on pve2 through its own CLI", async () => {
    const before = w.calls().length;
    const r = await w.cli("pve1", ["hooks", "attach", "101", "102", "103", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const set = ["set", "--hookscript", OURS];
    expect(w.calls().slice(before)).toEqual(
      expect.arrayContaining([
        { tool: "qm", argv: [set[0], "101", ...set.slice(1)], node: "pve1" },
        { tool: "pct", argv: [set[0], "103", ...set.slice(1)], node: "pve1" },
        { tool: "qm", argv: [set[0], "102", ...set.slice(1)], node: "pve2" },
      ]),
    );
    expect(w.calls().slice(before)).toHaveLength(3);
    const report = json(r.stdout);
    expect(
      report.guests.map((g: { vmid: number; outcome: string; ranOn: string }) => [
        g.vmid,
        g.outcome,
        g.ranOn,
      ]),
    ).toEqual([
      [101, "attached", "pve1"],
      [102, "attached", "pve2"],
      [103, "attached", "pve1"],
    ]);
  });

  it("a guest that already runs ours is left alone; a VMID that is malformed, unknown or unconfigured is refused by name", async () => {
    config(101).hookscript = OURS;
    const before = w.calls().length;
    const ok = await w.cli("pve1", ["hooks", "attach", "101"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("VM 101 already has our hookscript");
    for (const [arg, message] of [
      ["10x", 'VMID: "10x" is not a VM id'],
      ["999", "VMID: 999 is not a guest of this cluster"],
      ["105", "VMID: 105 is not configured"],
    ]) {
      const r = await w.cli("pve1", ["hooks", "attach", arg!]);
      expect(r.code, arg).toBe(1);
      expect(r.stderr).toContain(message);
    }
    const both = await w.cli("pve1", ["hooks", "attach", "101", "--all"]);
    expect(both.code).toBe(1);
    expect(both.stderr).toContain("VMID: give VM ids or --all, not both");
    expect(w.calls().slice(before)).toEqual([]);
  });

  it("--dry-run prints the commands, runs none and writes no chain record", async () => {
    const before = w.calls().length;
    const r = await w.cli("pve1", ["hooks", "attach", "--all", "--chain", "--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `would: VM 104: our hookscript attached; it runs "${BACKUP}" first [qm set 104 --hookscript ${OURS}]`,
    );
    expect(r.stdout).toContain(`[pct set 103 --hookscript ${OURS}]`);
    expect(w.calls().slice(before)).toEqual([]);
    expect(existsSync(chainFile(w.pveRoot, 104))).toBe(false);
  });

  it("attach --chain records the other hookscript in pmxcfs, then attaches ours; detach puts it back and drops the record", async () => {
    const before = w.calls().length;
    const r = await w.cli("pve1", ["hooks", "attach", "104", "--chain"]);
    expect(r.code, r.stderr).toBe(0);
    expect(w.calls().slice(before)).toEqual([
      { tool: "qm", argv: ["set", "104", "--hookscript", OURS], node: "pve1" },
    ]);
    expect(JSON.parse(readFileSync(chainFile(w.pveRoot, 104), "utf8"))).toMatchObject({
      vmid: 104,
      volid: BACKUP,
      path: w.snippet("pve1", "backup.sh"),
    });

    config(104).hookscript = OURS; // what the real qm set did
    const status = json((await w.cli("pve1", ["hooks", "status", "104", "--json"])).stdout);
    expect(status.guests[0]).toMatchObject({
      hookscript: "ours",
      volid: OURS,
      file: { state: "ok" },
      chained: { volid: BACKUP, file: { state: "ok", path: w.snippet("pve1", "backup.sh") } },
    });

    const d = await w.cli("pve1", ["hooks", "detach", "104"]);
    expect(d.code, d.stderr).toBe(0);
    expect(w.calls().slice(-1)).toEqual([
      { tool: "qm", argv: ["set", "104", "--hookscript", BACKUP], node: "pve1" },
    ]);
    expect(existsSync(chainFile(w.pveRoot, 104))).toBe(false);
  });

  it("detach deletes only our hookscript: another one is left alone", async () => {
    config(101).hookscript = OURS;
    const before = w.calls().length;
    const r = await w.cli("pve1", ["hooks", "detach", "101", "104", "--json"]);
    expect(r.code).toBe(0);
    expect(w.calls().slice(before)).toEqual([
      { tool: "qm", argv: ["set", "101", "--delete", "hookscript"], node: "pve1" },
    ]);
    const outcomes = json(r.stdout).guests.map((g: { outcome: string; message: string }) => [
      g.outcome,
      g.message,
    ]);
    expect(outcomes).toEqual([
      ["detached", "VM 101: our hookscript removed"],
      ["unchanged", `VM 104 has another hookscript, "${BACKUP}": not ours, left alone`],
    ]);
  });

  it("a failing qm exits 2 with its message, and a chain record written for it is removed again", async () => {
    w.failFor([104]);
    const r = await w.cli("pve1", ["hooks", "attach", "104", "--chain"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain("FAILED: VM 104: qm set failed on pve1: VM 104 is locked (backup)");
    expect(existsSync(chainFile(w.pveRoot, 104))).toBe(false);
  });

  it("attach fails for a guest whose node lacks our hookscript file, naming the node and the file, without running qm there", async () => {
    const file = w.snippet("pve2", "pvemigrate-dns.mjs");
    const text = readFileSync(file, "utf8");
    rmSync(file);
    try {
      const before = w.calls().length;
      const r = await w.cli("pve1", ["hooks", "attach", "102"]);
      expect(r.code).toBe(2);
      expect(r.stdout).toContain(`our hookscript ${OURS} is missing on pve2 (${file})`);
      expect(w.calls().slice(before)).toEqual([]);
    } finally {
      writeFileSync(file, text, { mode: 0o755 });
    }
  });

  it("--chain refuses a hookscript on a storage it cannot resolve, naming the storage; nothing changes", async () => {
    writeFileSync(
      join(w.pveRoot, "storage.cfg"),
      "lvmthin: fast\n\tvgname pve\n\tthinpool data\n\tcontent images\n",
    );
    config(104).hookscript = "fast:snippets/x.sh";
    try {
      const before = w.calls().length;
      const r = await w.cli("pve1", ["hooks", "attach", "104", "--chain"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        'VM 104: cannot chain its hookscript: storage "fast" (type lvmthin) has no snippets directory',
      );
      expect(w.calls().slice(before)).toEqual([]);
    } finally {
      rmSync(join(w.pveRoot, "storage.cfg"));
    }
  });

  it("status shows ours/other/none per guest and checks each file on the guest's own node", async () => {
    config(101).hookscript = OURS;
    config(102).hookscript = OURS;
    // pve2's copy is there but not executable: only pve2 can tell.
    const file = w.snippet("pve2", "pvemigrate-dns.mjs");
    const text = readFileSync(file, "utf8");
    w.putSnippet("pve2", "pvemigrate-dns.mjs", text, 0o644);
    try {
      const r = await w.cli("pve1", ["hooks", "status", "--json"]);
      expect(r.code, r.stderr).toBe(0);
      const rows = json(r.stdout).guests.map(
        (g: { vmid: number; node: string; hookscript: string; volid?: string; file?: { state: string } }) => [
          g.vmid,
          g.node,
          g.hookscript,
          g.volid,
          g.file?.state,
        ],
      );
      expect(rows).toEqual([
        [101, "pve1", "ours", OURS, "ok"],
        [102, "pve2", "ours", OURS, "not-executable"],
        [103, "pve1", "none", undefined, undefined],
        [104, "pve1", "other", BACKUP, "ok"],
      ]);
      const text2 = (await w.cli("pve1", ["hooks", "status"])).stdout;
      expect(text2).toContain(`VM 102 qemu on pve2: ours ${OURS}, file not-executable (${file})`);
      expect(text2).toContain("VM 103 lxc on pve1: none");
    } finally {
      w.putSnippet("pve2", "pvemigrate-dns.mjs", text, 0o755);
    }
  });

  it("--local keeps to this node's guests; one named there but found elsewhere is reported, not touched", async () => {
    const all = await w.cli("pve2", ["hooks", "status", "--local", "--json"]);
    expect(all.code, all.stderr).toBe(0);
    expect(json(all.stdout).guests.map((g: { vmid: number }) => g.vmid)).toEqual([102]);
    const before = w.calls().length;
    const moved = await w.cli("pve2", ["hooks", "attach", "101", "--local", "--json"]);
    expect(moved.code).toBe(2);
    expect(json(moved.stdout).guests).toEqual([
      { vmid: 101, type: "qemu", node: "pve1", outcome: "failed", message: "VM 101: is on pve1, not here" },
    ]);
    expect(w.calls().slice(before)).toEqual([]);
  });

  it("status of a guest on an offline node says why it is unknown and exits 2", async () => {
    w.sim.addVm({ vmid: 106, node: "pve3" });
    await w.sim.setNodeOnline("pve3", false);
    try {
      const r = await w.cli("pve1", ["hooks", "status", "106", "--json"]);
      expect(r.code).toBe(2);
      const g = json(r.stdout).guests[0];
      expect(g).toMatchObject({ vmid: 106, node: "pve3", hookscript: "unknown" });
      expect(g.error).toMatch(/cannot read its config/);
    } finally {
      await w.sim.setNodeOnline("pve3", true);
    }
  });
});
