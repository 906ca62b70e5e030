import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InputError } from "../../lib/errors.ts";
import { LastAppliedStore } from "../../lib/state/last-applied.ts";

let dir: string;
let warnings: string[];
let clock: number;
const store = (clusterDir = join(dir, "pve", "pvemigrate-dns", "last-applied")) =>
  new LastAppliedStore({
    localDir: join(dir, "state", "last-applied"),
    clusterDir,
    fileMode: 0o600,
    now: () => clock,
    warn: (m) => warnings.push(m),
  });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), `pvemigrate-state-last-${process.pid}-`));
  warnings = [];
  clock = Date.parse("2025-01-01T00:00:00Z");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("last-applied records", () => {
  it("writes one file per VM both on the node and in pmxcfs, and reads it back", async () => {
    const s = store();
    const { record, cluster } = await s.set({ vmid: 101, node: "pve2", privateIPs: ["10.10.1.101"] });
    expect(cluster).toBe(true);
    expect(record).toEqual({
      vmid: 101,
      node: "pve2",
      privateIPs: ["10.10.1.101"],
      publicIPs: [],
      names: [],
      appliedAt: "2025-01-01T00:00:00.000Z",
    });
    for (const copy of [
      join(dir, "state", "last-applied", "101.json"),
      join(dir, "pve", "pvemigrate-dns", "last-applied", "101.json"),
    ]) {
      expect(JSON.parse(await readFile(copy, "utf8"))).toEqual(record);
    }
    expect((await stat(join(dir, "state", "last-applied", "101.json"))).mode & 0o777).toBe(0o600);
    expect(await store().get(101)).toEqual(record);
    expect(await s.get(102)).toBeUndefined();
  });

  it("returns the newer of the two copies (another node switched the VM since)", async () => {
    const s = store();
    await s.set({ vmid: 101, node: "pve1" });
    clock += 5_000;
    const other = JSON.stringify({
      vmid: 101,
      node: "pve3",
      privateIPs: [],
      publicIPs: ["192.0.2.30"],
      names: [],
      appliedAt: new Date(clock).toISOString(),
    });
    await writeFile(join(dir, "pve", "pvemigrate-dns", "last-applied", "101.json"), other);
    expect(await s.get(101)).toMatchObject({ node: "pve3", publicIPs: ["192.0.2.30"] });
  });

  it("keeps the local copy when pmxcfs is not writable (no quorum) and says so", async () => {
    await mkdir(join(dir, "pve"), { recursive: true });
    await writeFile(join(dir, "pve", "ro"), "a file where a directory should be");
    const s = store(join(dir, "pve", "ro", "last-applied"));
    const result = await s.set({ vmid: 7, node: "pve1", names: ["mail.example.org"] });
    expect(result.cluster).toBe(false);
    expect(warnings.join("\n")).toContain("pmxcfs copy not written");
    expect(await s.get(7)).toMatchObject({ node: "pve1", names: ["mail.example.org"] });
  });

  it("lists every VM once and ignores damaged copies", async () => {
    const s = store();
    await s.set({ vmid: 300, node: "pve1" });
    await s.set({ vmid: 20, node: "pve2" });
    await writeFile(join(dir, "pve", "pvemigrate-dns", "last-applied", "300.json"), "{oops");
    expect((await s.list()).map((r) => [r.vmid, r.node])).toEqual([
      [20, "pve2"],
      [300, "pve1"],
    ]);
    expect(warnings.join("\n")).toContain("not a valid record");
    await s.remove(20);
    expect(await readdir(join(dir, "state", "last-applied"))).toEqual(["300.json"]);
  });

  it("rejects a bad vmid or an empty node", async () => {
    const s = store();
    await expect(s.set({ vmid: 1.5, node: "pve1" })).rejects.toBeInstanceOf(InputError);
    await expect(s.set({ vmid: 1, node: "" })).rejects.toBeInstanceOf(InputError);
    await expect(s.get(-3)).rejects.toBeInstanceOf(InputError);
  });
});
