import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { run } from "../../lib/process/run.ts";
import { type NodeName, VM_NAME } from "../e2e/netns-world.ts";
import { dig } from "../support/named.ts";
import { faultRuns, liveMigrate, nodeCluster, other, runRow, settle, vmNode } from "./harness-node.ts";
import { faultSuite } from "./suite.ts";

// Fault matrix rows for durable state:
// - the target's state disk full (stateDir on a small tmpfs filled up: files
//   can be created, no byte written) during a hook-driven live migration;
// - pmxcfs read-only: the cluster lost quorum right after a live migration
//   moved the VM's config, while the worker switches and the timers reconcile.
//   pmxcfs then refuses every write with EACCES (pve-cluster
//   src/pmxcfs/dcdb.c dcdb_send_fuse_message: `if (!cfs_is_quorate()) return
//   -EACCES`) and shows modes 0555/0444 (cfs-plug-memdb.c tree_entry_stat);
//   here a read-only bind mount of pveRoot refuses them with EROFS, which the
//   code treats alike (any write error), and the sim reports no quorum.
// Under both, DNS must never point at a node that does not forward the VM
// (the issue saw a full state disk do that), watched all along the run.

const sh = async (argv: string[]) => {
  const r = await run(argv);
  if (r.code !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.trim()}`);
};

faultSuite("fault matrix: state disk full, pmxcfs read-only", nodeCluster(), (cluster) => {
  /**
   * Samples, until stopped, where the name points and whether that node
   * forwards the VM (a permanent or a grace forward); returns the violations.
   */
  const watchDns = () => {
    const c = cluster();
    const violations: string[] = [];
    let on = true;
    const loop = (async () => {
      while (on) {
        const a = (await dig(c.h.primary.port, VM_NAME, "A").catch(() => [])).join();
        const node = (["pve1", "pve2"] as NodeName[]).find((n) => c.publicIp(n) === a);
        // A permanent forward ("2222 : ip . port") or a grace one ("2222 timeout 20s expires 9s : ip . port").
        if (node && !/2222 [^,}]*: 10\.10\.1\.101 \. 22/.test(await c.nftTable(node)))
          violations.push(`${VM_NAME} points at ${node}, which does not forward it`);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    return async () => {
      on = false;
      await loop;
      return violations;
    };
  };

  it("the target's state disk full during a live migration: DNS never points at a node without forwards; it converges once space is freed", async () => {
    const c = cluster();
    await runRow("state disk full", faultRuns(1), async () => {
      const to = other(vmNode(c));
      const stateDir = c.runtime(to).config.stateDir;
      const disk = mkdtempSync(join(tmpdir(), "pvemigrate-fault-disk-"));
      await sh(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", disk]);
      let mounted = false;
      const stop = watchDns();
      try {
        await sh(["mkdir", "-p", stateDir]);
        await sh(["cp", "-a", `${stateDir}/.`, disk]);
        await sh(["mount", "--bind", disk, stateDir]);
        mounted = true;
        // Fill it: what is left after this write is not one page.
        const fd = openSync(join(stateDir, "filler"), "w");
        try {
          for (;;) writeSync(fd, Buffer.alloc(64 * 1024));
        } catch (err) {
          expect((err as NodeJS.ErrnoException).code).toBe("ENOSPC");
        } finally {
          closeSync(fd);
        }
        await liveMigrate(c, to);
        // The worker and a timer's reconcile on the full disk.
        await new Promise((r) => setTimeout(r, 2000));
        const onFull = await c.cli(to, ["reconcile", "--json"]);
        // The fault was in the way: nothing could be recorded, so the names stayed where forwards are.
        expect(onFull.stderr).toContain("ENOSPC");
        expect(await c.dnsA()).toEqual([c.publicIp(other(to))]);
        rmSync(join(stateDir, "filler"));
        const t0 = Date.now();
        const result = await settle(c, to, t0);
        const violations = await stop();
        return {
          ...result,
          lost: result.lost + violations.length,
          problems: [...result.problems, ...violations],
        };
      } finally {
        await stop();
        if (mounted) await sh(["umount", stateDir]);
        await sh(["umount", disk]);
        rmSync(disk, { recursive: true, force: true });
      }
    });
  }, 180_000);

  it("pmxcfs read-only (no quorum) after a live migration: the switch and reconciles keep clients served; it converges once quorum is back", async () => {
    const c = cluster();
    await runRow("pmxcfs read-only (no quorum)", faultRuns(1), async () => {
      const to = other(vmNode(c));
      const pveRoot = c.h.loaded.config.pveRoot;
      let readOnly = false;
      const stop = watchDns();
      try {
        // The config moved, then the cluster lost quorum: the hook's worker switches without it.
        await liveMigrate(c, to, { hooks: false });
        c.h.sim.setQuorate(false);
        await sh(["mount", "--bind", pveRoot, pveRoot]);
        readOnly = true;
        await sh(["mount", "-o", "remount,bind,ro", pveRoot]);
        const env = { PVE_MIGRATED_FROM: other(to) };
        for (const phase of ["pre-start", "post-start"]) expect((await c.hook(to, phase, env)).code).toBe(0);
        await new Promise((r) => setTimeout(r, 2000));
        const reconciles = await Promise.all([to, other(to)].map((n) => c.cli(n, ["reconcile", "--json"])));
        for (const r of reconciles) {
          expect([0, 2, 3], r.stderr).toContain(r.code);
          expect(r.stderr).toContain("EROFS");
        }
      } finally {
        if (readOnly) await sh(["umount", pveRoot]);
        c.h.sim.setQuorate(undefined);
      }
      const result = await settle(c, to, Date.now());
      const violations = await stop();
      return {
        ...result,
        lost: result.lost + violations.length,
        problems: [...result.problems, ...violations],
      };
    });
  }, 180_000);
});
