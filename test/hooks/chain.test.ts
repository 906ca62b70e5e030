import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type ChainRecord, writeChainRecord } from "../../lib/hookscripts/chain-record.ts";
import { run } from "../../lib/process/run.ts";
import { baseDoc, type Fixture, makeFixture } from "../config/fixture.ts";
import { buildBundle } from "../e2e/harness.ts";

// The BUILT hookscript run the way Proxmox runs it (`<script> <vmid> <phase>`,
// PATH and LC_ALL, empty stdin), for a guest whose previous hookscript was
// chained by `hooks attach --chain`: ours must run it first with the same
// argv and environment, pass its output through, and in pre-start exit with
// its failure (pve-guest-common GuestHelpers.pm `exec_hookscript`: only
// pre-start stops on an error), before doing any work of its own.

const CHAINED = `#!/bin/sh
here=$(dirname "$0")
{ printf 'arg=%s\\n' "$@"; echo "from=\${PVE_MIGRATED_FROM-unset}"; echo "mark=\${CHAIN_MARK-unset}"; echo "lc=\${LC_ALL-unset}"; } >> "$here/chained.out"
echo "chained stdout line"
echo "chained stderr line" >&2
exit $(cat "$here/chained.exit" 2>/dev/null || echo 0)
`;

describe("hookscript runs a chained hookscript first", () => {
  let f: Fixture;
  let hook: string;
  let configFile: string;
  let pveRoot: string;
  let stateDir: string;
  let snippets: string;
  const record = (vmid: number, path = join(snippets, "backup.sh")): ChainRecord => ({
    vmid,
    volid: "local:snippets/backup.sh",
    path,
    chainedAt: "2026-12-03T10:00:00.000Z",
  });
  const chainedOut = () => {
    const file = join(snippets, "chained.out");
    return existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : [];
  };

  beforeAll(() => {
    f = makeFixture();
    hook = join(buildBundle(join(f.dir, "dist")), "..", "hookscript.cjs");
    pveRoot = join(f.dir, "pve");
    stateDir = join(f.dir, "state");
    snippets = join(f.dir, "snippets");
    mkdirSync(snippets);
    writeFileSync(join(snippets, "backup.sh"), CHAINED, { mode: 0o755 });
    configFile = f.write({ ...baseDoc(), pveRoot, stateDir });
  }, 60_000);
  afterAll(() => f?.cleanup());
  beforeEach(() => {
    for (const p of [pveRoot, stateDir, join(snippets, "chained.out"), join(snippets, "chained.exit")])
      rmSync(p, { recursive: true, force: true });
  });

  const runHook = (vmid: number, phase: string, env: Record<string, string> = {}) =>
    run([hook, String(vmid), phase], {
      env: {
        PATH: "/sbin:/bin:/usr/sbin:/usr/bin",
        LC_ALL: "C",
        PVEMIGRATE_DNS_CONFIG: configFile,
        PVEMIGRATE_DNS_NODE: "pve1",
        PVEMIGRATE_DNS_CACHE_DIR: join(f.dir, "cache"),
        CHAIN_MARK: "two words",
        ...env,
      },
      timeoutMs: 20_000,
    });

  it("pre-start: the chained script gets <vmid> <phase> and our environment, its output reaches the task log, then ours runs", async () => {
    await writeChainRecord(pveRoot, record(101));
    const r = await runHook(101, "pre-start", { PVE_MIGRATED_FROM: "pve2" });
    expect(r.code, r.stderr).toBe(0);
    expect(chainedOut()).toEqual(["arg=101", "arg=pre-start", "from=pve2", "mark=two words", "lc=C"]);
    expect(r.stdout).toContain("chained stdout line");
    expect(r.stderr).toContain("chained stderr line");
    // Ours ran after it: a migration's pre-start records its source in this node's journal.
    expect(readdirSync(join(stateDir, "journal")).length).toBeGreaterThan(0);
  });

  it("pre-start: a chained script that fails aborts the start with its exit code, and ours does nothing", async () => {
    await writeChainRecord(pveRoot, record(101));
    writeFileSync(join(snippets, "chained.exit"), "3\n");
    const r = await runHook(101, "pre-start", { PVE_MIGRATED_FROM: "pve2" });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("hookscript error for 101 on pre-start: exit code 3");
    expect(chainedOut()).toContain("arg=pre-start");
    expect(existsSync(join(stateDir, "journal"))).toBe(false);
  });

  it("pre-start: a chained script that is missing or not executable aborts the start, as check_hookscript would", async () => {
    await writeChainRecord(pveRoot, record(101, join(snippets, "gone.sh")));
    const gone = await runHook(101, "pre-start");
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(
      "hookscript error for 101 on pre-start: script 'local:snippets/backup.sh' does not exist",
    );
    writeFileSync(join(snippets, "plain.sh"), CHAINED, { mode: 0o644 });
    await writeChainRecord(pveRoot, record(101, join(snippets, "plain.sh")));
    const plain = await runHook(101, "pre-start");
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain("is not executable");
  });

  it("other phases only warn about a failing chained script, like Proxmox", async () => {
    await writeChainRecord(pveRoot, record(101));
    writeFileSync(join(snippets, "chained.exit"), "1\n");
    const r = await runHook(101, "pre-stop");
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("hookscript error for 101 on pre-stop: exit code 1");
    expect(chainedOut()).toEqual(["arg=101", "arg=pre-stop", "from=unset", "mark=two words", "lc=C"]);
  });

  it("a guest the config does not manage still gets its chained script run", async () => {
    await writeChainRecord(pveRoot, record(150));
    writeFileSync(join(snippets, "chained.exit"), "4\n");
    const r = await runHook(150, "pre-start");
    expect(r.code).toBe(4);
    expect(chainedOut()).toContain("arg=150");
  });

  it("without a chain record nothing else runs", async () => {
    const r = await runHook(101, "pre-start");
    expect(r.code, r.stderr).toBe(0);
    expect(chainedOut()).toEqual([]);
    expect(r.stdout).toBe("");
  });

  it("a corrupt chain record is reported by its file and never quoted; the start goes ahead", async () => {
    mkdirSync(join(pveRoot, "pvemigrate-dns", "hook-chain"), { recursive: true });
    writeFileSync(
      join(pveRoot, "pvemigrate-dns", "hook-chain", "101.json"),
      '{"vmid":101,"volid":"SECRET-ish"',
    );
    const r = await runHook(101, "pre-start");
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("hook-chain/101.json: not a chain record for VM 101");
    expect(r.stderr).not.toContain("SECRET-ish");
    expect(chainedOut()).toEqual([]);
  });
});
