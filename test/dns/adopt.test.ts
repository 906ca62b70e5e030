import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adoptSections, planAdopt } from "../../lib/dns/adopt.ts";
import { ownershipTxt } from "../../lib/dns/ownership.ts";
import type { NameRecords } from "../../lib/dns/types.ts";
import { ExitCode } from "../../lib/errors.ts";
import { cli } from "../cli/run.ts";
import {
  type DnsDaemon,
  dig,
  generateTsigKey,
  startNamedPrimary,
  type TsigKeyFixture,
} from "../support/named.ts";
import { writeNamedConfig, writeNamedSecrets } from "../support/named-config.ts";
import { missing } from "../support/requirements.ts";

// `dns adopt NAME`: a name made by hand becomes ours by one added TXT naming
// the VM the config gives it to; its A/AAAA and other records stay. Pure
// decisions first, then the whole command against real named.

const OWNER = "adopt-test";
type Held = { exists?: boolean; a?: readonly string[]; aaaa?: readonly string[]; txt?: readonly string[] };
const state = (over: Held): NameRecords => ({
  name: "legacy.example.org",
  master: "127.0.0.1:53",
  exists: over.exists ?? true,
  a: [...(over.a ?? [])],
  aaaa: [...(over.aaaa ?? [])],
  txt: [...(over.txt ?? [])],
  owned: false,
});

describe("planAdopt decides from the ownership TXT", () => {
  it.each([
    [
      "someone else's name: add our TXT for the VM",
      { a: ["192.0.2.7"] },
      { kind: "add", txt: ownershipTxt(OWNER, 102) },
    ],
    ["no such name: nothing to adopt", { exists: false }, { status: "absent" }],
    [
      "already ours for this VM",
      { a: ["192.0.2.7"], txt: [ownershipTxt(OWNER, 102)] },
      { status: "unchanged" },
    ],
    ["ours without a label: left to reconcile", { txt: [ownershipTxt(OWNER)] }, { status: "unchanged" }],
    ["ours for another VM: refused", { txt: [ownershipTxt(OWNER, 101)] }, { status: "refused" }],
    [
      "another owner's marker is not ours: adopted",
      { txt: [ownershipTxt("elsewhere", 101)] },
      { kind: "add" },
    ],
  ] as const)("%s", (_what, over, want) => {
    expect(planAdopt(state(over), OWNER, 102)).toMatchObject(want);
  });

  it("the update adds one TXT and pins A, AAAA and TXT to what was read (absent sets as absent)", () => {
    const s = adoptSections(
      "n.example.org",
      { a: ["192.0.2.7"], aaaa: [], txt: ["v=spf1 -all"] },
      "ours",
      60,
    );
    expect(s.updates).toEqual([
      { kind: "add", name: "n.example.org", ttl: 60, rdata: { type: "TXT", text: "ours" } },
    ]);
    expect(s.prerequisites).toEqual([
      { kind: "rrsetEquals", name: "n.example.org", rdata: [{ type: "A", address: "192.0.2.7" }] },
      { kind: "rrsetAbsent", name: "n.example.org", type: "AAAA" },
      { kind: "rrsetEquals", name: "n.example.org", rdata: [{ type: "TXT", text: "v=spf1 -all" }] },
    ]);
  });
});

describe.skipIf(missing({ bins: ["named", "tsig-keygen", "dig"] }))("dns adopt against named", () => {
  let dir: string;
  let key: TsigKeyFixture;
  let primary: DnsDaemon;
  let config: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `pvemigrate-adopt-${process.pid}-`));
    key = await generateTsigKey("adopt-key");
    primary = await startNamedPrimary({
      zone: "example.org",
      keys: [key],
      records: [
        "legacy IN A 192.0.2.7",
        "legacy IN AAAA 2001:db8::7",
        'legacy IN TXT "v=spf1 -all"',
        "legacy IN MX 10 mx.example.net.",
        "other IN A 192.0.2.8",
        `taken IN A 192.0.2.9`,
        `taken IN TXT "${ownershipTxt(OWNER, 101)}"`,
      ],
    });
    writeNamedSecrets(dir, key);
    config = writeNamedConfig(join(dir, "cluster.yaml"), key, {
      ports: [primary.port],
      dns: { ttl: 120, ownerId: OWNER },
      vms: {
        101: { ip: "10.10.1.101", dns: ["taken.example.org"] },
        102: { ip: "10.10.1.102", dns: ["legacy.example.org"] },
      },
    });
  });

  afterAll(async () => {
    await primary?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const records = async (name: string) => ({
    a: await dig(primary.port, name, "A"),
    aaaa: await dig(primary.port, name, "AAAA"),
    txt: (await dig(primary.port, name, "TXT")).sort(),
    mx: await dig(primary.port, name, "MX"),
  });

  it("--dry-run shows what the master holds and the TXT it would add, and sends nothing", async () => {
    const before = await records("legacy.example.org");
    const r = await cli(["--config", config, "dns", "adopt", "legacy.example.org", "--dry-run"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^legacy\.example\.org:\n/);
    expect(r.stdout).toContain("192.0.2.7");
    expect(r.stdout).toContain(`would add TXT "${ownershipTxt(OWNER, 102)}"`);
    expect(await records("legacy.example.org")).toEqual(before);
  });

  it("adds our TXT naming the VM the config gives the name to; A, AAAA, the other TXT and MX stay", async () => {
    const before = await records("legacy.example.org");
    const r = await cli(["--config", config, "dns", "adopt", "legacy.example.org", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const env = JSON.parse(r.stdout);
    expect(env).toMatchObject({ ok: true, exitCode: 0, data: { vmid: 102, result: { status: "adopted" } } });
    expect(env.data.before.masters[0]).toMatchObject({ a: ["192.0.2.7"], owned: false });
    const after = await records("legacy.example.org");
    expect(after).toEqual({
      ...before,
      txt: [...before.txt, `"${ownershipTxt(OWNER, 102)}"`].sort(),
    });
    // Adopting again changes nothing.
    const again = await cli(["--config", config, "dns", "adopt", "legacy.example.org"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("already ours for VM 102, nothing to do");
    expect(await records("legacy.example.org")).toEqual(after);
  });

  it("refuses a name no VM in the config claims, in one line, before asking any master", async () => {
    const before = await records("other.example.org");
    const r = await cli(["--config", config, "dns", "adopt", "other.example.org"]);
    expect(r.code).toBe(ExitCode.invalid);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toEqual([
      "NAME: no VM in the config claims other.example.org (list it under a VM's dns: first)",
    ]);
    expect(await records("other.example.org")).toEqual(before);
  });

  it("refuses a name our TXT gives to another VM, and leaves it as it is", async () => {
    const before = await records("taken.example.org");
    const file = join(dir, "swapped.yaml");
    const { readFile } = await import("node:fs/promises");
    await writeFile(
      file,
      (await readFile(config, "utf8"))
        .replace("taken.example.org", "x.example.org")
        .replace("legacy.example.org", "taken.example.org"),
    );
    const r = await cli(["--config", file, "dns", "adopt", "taken.example.org"]);
    expect(r.code).toBe(ExitCode.invalid);
    expect(r.stderr).toContain(`taken.example.org: not adopted: our TXT names VM 101, not VM 102`);
    expect(await records("taken.example.org")).toEqual(before);
  });
});
