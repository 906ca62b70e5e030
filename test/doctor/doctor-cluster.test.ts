import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config/load.ts";
import { runClusterDoctor } from "../../lib/doctor/cluster.ts";
import { formatReport } from "../../lib/doctor/report.ts";
import type { DoctorReport } from "../../lib/doctor/types.ts";
import { run, runChecked } from "../../lib/process/run.ts";
import { type Harness, startHarness, ZONE } from "../e2e/harness.ts";
import { installBelow } from "../support/install.ts";
import { type DnsDaemon, generateTsigKey, startNamedPrimary, type TsigKeyFixture } from "../support/named.ts";
import { missing } from "../support/requirements.ts";

// `doctor --cluster` shown a broken world, every part of it real where it
// runs here: a two-node cluster (the sim's /cluster/status) whose
// corosync.conf (a temp pmxcfs file) puts pve2's ring on its public address
// and has no QDevice; a dead master (a named that was stopped); two
// independent primaries holding different data; a key both know but whose
// updates their update-policy refuses; pve1's clock 90 s ahead; a managed
// guest on pve2 without our hookscript. pve1 runs in this process, pve2 is
// the built CLI run as that node (the netns transport), so every problem
// both see comes back twice, and must be reported once.

const HOOK = "local:snippets/pvemigrate-dns.mjs";
const SKEW_MS = 90_000;

const corosyncConf = (pve2Ring: string, quorum = "") => `nodelist {
  node {
    name: pve1
    nodeid: 1
    quorum_votes: 1
    ring0_addr: 10.99.0.1
  }
  node {
    name: pve2
    nodeid: 2
    quorum_votes: 1
    ring0_addr: ${pve2Ring}
  }
}

quorum {
  provider: corosync_votequorum
${quorum}
}

totem {
  cluster_name: broken
  config_version: 2
  interface {
    linknumber: 0
  }
  ip_version: ipv4-6
  secauth: on
  version: 2
}
`;

const nsupdate = (port: number, key: TsigKeyFixture, lines: string[]) =>
  runChecked(["nsupdate", "-y", `${key.algorithm}:${key.name}:${key.secret}`], {
    input: [`server 127.0.0.1 ${port}`, `zone ${ZONE}`, ...lines, "send", ""].join("\n"),
  });

describe.skipIf(missing({ bins: ["named", "dig", "tsig-keygen", "nsupdate", "systemctl"] }))(
  "doctor --cluster on a broken two-node world",
  () => {
    let h: Harness;
    let root: string;
    let readOnly: TsigKeyFixture;
    const daemons: DnsDaemon[] = [];
    let dead: number;
    let left: DnsDaemon;
    let right: DnsDaemon;

    beforeAll(async () => {
      h = await startHarness({
        secondary: false,
        sim: {
          nodes: ["pve1", "pve2"],
          vms: [
            { vmid: 101, node: "pve1", config: { name: "mail", hookscript: HOOK } },
            { vmid: 102, node: "pve2", config: { name: "shop" } },
          ],
        },
      });
      readOnly = await generateTsigKey("transfer-key");
      // Two primaries of one zone that never replicate; both know both keys, grant only the harness's.
      const primary = () => startNamedPrimary({ zone: ZONE, keys: [h.key], readOnlyKeys: [readOnly] });
      [left, right] = await Promise.all([primary(), primary()]);
      const stopped = await primary();
      daemons.push(left, right);
      dead = stopped.port;
      await stopped.stop();
      // A write that landed on one side only.
      await nsupdate(left.port, h.key, ["update add shop.example.org 60 IN A 203.0.113.20"]);
      writeFileSync(join(h.dir, "tsig-transfer"), `${readOnly.secret}\n`, { mode: 0o600 });
      root = mkdtempSync(join(tmpdir(), `pvemigrate-doctorc-${process.pid}-`));
      installBelow(root, join(h.dir, "dist"));
      await runChecked(["systemctl", `--root=${root}`, "enable", "pvemigrate-dns-reconcile.timer"]);
    }, 120_000);
    afterAll(async () => {
      for (const d of daemons) await d.stop();
      if (root) rmSync(root, { recursive: true, force: true });
      await h?.stop();
    });

    const world = (name: string, broken: boolean) => {
      writeFileSync(
        join(h.dir, "pve", "corosync.conf"),
        broken
          ? corosyncConf("203.0.113.20")
          : corosyncConf(
              "10.99.0.2",
              "  device {\n    model: net\n    votes: 1\n    net {\n      algorithm: ffsplit\n      host: 10.99.0.9\n    }\n  }",
            ),
      );
      return h.writeConfigVariant(name, (doc) => {
        const nodes = doc.nodes as Record<string, unknown>;
        delete nodes.pve3;
        const dns = doc.dns as { masters: string[]; tsig: { name: string; secretFile: string } };
        dns.masters = broken
          ? [`127.0.0.1:${dead}`, `127.0.0.1:${left.port}`, `127.0.0.1:${right.port}`]
          : [`127.0.0.1:${left.port}`];
        if (broken) dns.tsig = { ...dns.tsig, name: readOnly.name, secretFile: "tsig-transfer" };
      });
    };
    const doctor = (configPath: string, skewMs: number) =>
      runClusterDoctor({
        load: loadConfig,
        configPath,
        node: "pve1",
        rootDir: root,
        now: () => Date.now() + skewMs,
      });
    const problems = (r: DoctorReport) => r.findings.filter((f) => f.status !== "ok");
    const text = (r: DoctorReport) => formatReport(r).join("\n");

    it("reports each problem exactly once, with a fix, naming the nodes that saw it", async () => {
      const r = await doctor(world("broken", true), SKEW_MS);
      const all = text(r);
      const L = `127\\.0\\.0\\.1:${left.port}`;
      const R = `127\\.0\\.0\\.1:${right.port}`;
      const expected: Array<[string, string, RegExp]> = [
        // the dead master, seen by both nodes
        [
          "dns",
          "fail",
          new RegExp(`^pve1, pve2: master 127\\.0\\.0\\.1:${dead}: connection refused \\(udp\\)$`),
        ],
        // the diverging primaries: serial and answer, one line
        [
          "dns",
          "warn",
          new RegExp(
            `^pve1, pve2: masters disagree on the zone serial: 2 at ${L}, 1 at ${R}; masters answer differently for 1 name\\(s\\): shop\\.example\\.org: 203\\.0\\.113\\.20 at ${L}, \\(nothing\\) at ${R}$`,
          ),
        ],
        // the wrong key: known to both, refused by both
        [
          "dns-update",
          "fail",
          new RegExp(
            `^pve1, pve2: key "transfer-key" may not update example\\.org at ${L} \\(REFUSED\\), ${R} \\(REFUSED\\)$`,
          ),
        ],
        // pve1's clock only
        [
          "clock",
          "warn",
          new RegExp(`^pve1: this node's clock is (89|90|91) s ahead of ${L}, (89|90|91) s ahead of ${R}`),
        ],
        // the guest on pve2 without our hookscript
        ["hookscript", "warn", /^pve2: VM 102 has no hookscript/],
        // the cluster's own wiring, judged once
        [
          "corosync",
          "warn",
          /^corosync link0 runs over public addresses: pve2 203\.0\.113\.20 \(pve2's publicIPv4\)$/,
        ],
        [
          "quorum",
          "warn",
          /^two-node cluster without a QDevice \(2 nodes: 2 votes, quorum needs 2; 2 of 2 node\(s\) online\)/,
        ],
      ];
      expect(
        problems(r).map((f) => [f.check, f.status, f.message]),
        all,
      ).toEqual(expected.map(([check, status, message]) => [check, status, expect.stringMatching(message)]));
      // Every problem comes with a fix, on its one line.
      for (const f of problems(r)) expect(f.hint, f.message).toBeTruthy();
      expect(all).toMatch(
        /^WARN corosync: corosync link0 runs over public addresses: .* -> put link0 on the private mesh/m,
      );
      // Both nodes answered, with the same version; pve2's own checks came back (its hookscript file).
      expect(r.nodes).toEqual(["pve1", "pve2"]);
      expect(r.findings.filter((f) => f.check === "version").map((f) => f.message)).toEqual([
        expect.stringMatching(/^pvemigrate-dns \S+ on every node that answered \(pve1, pve2\)$/),
      ]);
      expect(r.findings.filter((f) => f.check === "hookscript-file").map((f) => f.nodes)).toEqual([
        ["pve1"],
        ["pve2"],
      ]);
      expect(r.exitCode).toBe(2);
      // The probe changed nothing: the refused key wrote nothing, the serials stayed.
      for (const [d, serial] of [
        [left, "2"],
        [right, "1"],
      ] as const) {
        const soa = await run(["dig", "+short", "-p", String(d.port), "@127.0.0.1", ZONE, "SOA"]);
        expect(soa.stdout.split(" ")[2]).toBe(serial);
      }
    }, 60_000);

    it("the same cluster repaired: no problem left, exit 0", async () => {
      h.sim.addVm({ vmid: 102, node: "pve2", config: { name: "shop", hookscript: HOOK } });
      const file = world("repaired", false);
      const r = await doctor(file, 0);
      expect(problems(r), text(r)).toEqual([]);
      // The CLI's --cluster is this same run (asynchronously: the sim answers from this process).
      const cli = await run(
        [
          process.execPath,
          h.bundle,
          "--config",
          file,
          "doctor",
          "--cluster",
          "--node",
          "pve1",
          "--root",
          root,
          "--json",
        ],
        { timeoutMs: 60_000 },
      );
      expect(cli.code, cli.stderr).toBe(0);
      const out = JSON.parse(cli.stdout) as { data?: unknown };
      // The report, bare or inside the JSON envelope.
      expect(out.data ?? out).toMatchObject({ nodes: ["pve1", "pve2"], exitCode: 0 });
      expect(r.findings.filter((f) => f.check === "quorum").map((f) => f.message)).toContain(
        "2 nodes + QDevice (net, ffsplit, 1 vote(s)): 3 votes, quorum needs 2; 2 of 2 node(s) online; survives losing 1 node(s)",
      );
      expect(r.exitCode).toBe(0);
    }, 60_000);
  },
);
