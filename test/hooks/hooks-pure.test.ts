import { describe, expect, it } from "vitest";
import { parseChainRecord } from "../../lib/hookscripts/chain-record.ts";
import { type GuestHooks, type PlanOptions, planGuest } from "../../lib/hookscripts/plan.ts";
import { renderStatus } from "../../lib/hookscripts/render.ts";
import { OUR_VOLID, parseSnippetVolid, parseStorageCfg, snippetPath } from "../../lib/hookscripts/volume.ts";

// The pure halves of `hooks`: volume id -> file (pve-storage Plugin.pm
// parse_volume_id, parse_volname, parse_config, get_subdir) and the per-guest
// decision.

const STORAGE_CFG = `# a node's storage.cfg
dir: local
\tpath /var/lib/vz
\tcontent iso,vztmpl,backup,snippets

nfs: nas
\texport /srv/pve
\tpath /mnt/pve/nas
\tserver 10.10.0.200
\tcontent snippets,backup

dir: tuned
\tpath /srv/tuned
\tcontent snippets
\tcontent-dirs snippets=hooks/bin,iso=isos

lvmthin: local-lvm
\tthinpool data
\tvgname pve
\tcontent rootdir,images
`;

describe("snippets volume ids resolve the way pve-storage does", () => {
  const table = parseStorageCfg(STORAGE_CFG);

  it.each([
    ["local:snippets/backup.sh", "/var/lib/vz/snippets/backup.sh"],
    ["nas:snippets/x.pl", "/mnt/pve/nas/snippets/x.pl"],
    ["tuned:snippets/x", "/srv/tuned/hooks/bin/x"],
  ])("%s -> %s", (volid, path) => {
    expect(snippetPath(volid, table)).toEqual({ path });
  });

  it("a root dir prefixes the path (tests give each node its own tree)", () => {
    expect(snippetPath("local:snippets/a", table, "/tmp/root/pve2")).toEqual({
      path: "/tmp/root/pve2/var/lib/vz/snippets/a",
    });
  });

  it("local is always a dir at /var/lib/vz, whatever storage.cfg says (Plugin.pm parse_config)", () => {
    for (const text of [
      "",
      "dir: local\n\tpath /elsewhere\n\tcontent-dirs snippets=s\n",
      "lvm: local\n\tvgname x\n",
    ]) {
      expect(snippetPath("local:snippets/a", parseStorageCfg(text))).toEqual({
        path: "/var/lib/vz/snippets/a",
      });
    }
  });

  it.each([
    ["local-lvm:snippets/a", /storage "local-lvm" \(type lvmthin\) has no snippets directory/],
    ["gone:snippets/a", /storage "gone" of gone:snippets\/a is not in storage.cfg/],
    ["local:iso/a.iso", /is not in a snippets directory/],
    ["local:snippets/sub/a", /is not in a snippets directory/],
    ["local:snippets/..", /is not in a snippets directory/],
    ["/var/lib/vz/snippets/a", /is not a volume id/],
  ])("%s is refused with the reason", (volid, reason) => {
    const r = snippetPath(volid, table);
    expect("error" in r && r.error).toMatch(reason);
  });

  it("volume ids follow parse_volume_id's storage name rule", () => {
    expect(parseSnippetVolid("my-store.1:snippets/h")).toEqual({ storage: "my-store.1", name: "h" });
    expect(parseSnippetVolid("1st:snippets/h")).toHaveProperty("error");
  });
});

describe("planGuest decides per guest", () => {
  const opts: PlanOptions = {
    ours: OUR_VOLID,
    chain: false,
    storages: parseStorageCfg(STORAGE_CFG),
    rootDir: "/",
    now: "2026-12-03T10:00:00.000Z",
  };
  const guest = (over: Partial<GuestHooks> = {}): GuestHooks => ({
    vmid: 101,
    type: "qemu",
    node: "pve1",
    ...over,
  });
  const chain = { vmid: 101, volid: "nas:snippets/b.sh", path: "/mnt/pve/nas/snippets/b.sh", chainedAt: "" };

  it.each([
    [
      "attach, none",
      guest(),
      "attach",
      opts,
      {
        kind: "change",
        outcome: "attached",
        argv: ["qm", "set", "101", "--hookscript", OUR_VOLID],
        dropChain: false,
      },
    ],
    [
      "attach, none, stale record",
      guest({ chain }),
      "attach",
      opts,
      { kind: "change", outcome: "attached", dropChain: true },
    ],
    [
      "attach lxc",
      guest({ type: "lxc" }),
      "attach",
      opts,
      { argv: ["pct", "set", "101", "--hookscript", OUR_VOLID] },
    ],
    ["attach, ours", guest({ hookscript: OUR_VOLID }), "attach", opts, { kind: "keep" }],
    ["attach, other", guest({ hookscript: "nas:snippets/b.sh" }), "attach", opts, { kind: "refuse" }],
    [
      "attach --chain, other",
      guest({ hookscript: "nas:snippets/b.sh" }),
      "attach",
      { ...opts, chain: true },
      {
        kind: "change",
        outcome: "chained",
        argv: ["qm", "set", "101", "--hookscript", OUR_VOLID],
        writeChain: { ...chain, chainedAt: opts.now },
      },
    ],
    [
      "attach --chain, unresolvable",
      guest({ hookscript: "local-lvm:snippets/b" }),
      "attach",
      { ...opts, chain: true },
      { kind: "refuse" },
    ],
    [
      "detach, ours",
      guest({ hookscript: OUR_VOLID }),
      "detach",
      opts,
      { kind: "change", outcome: "detached", argv: ["qm", "set", "101", "--delete", "hookscript"] },
    ],
    [
      "detach, ours chaining",
      guest({ hookscript: OUR_VOLID, chain }),
      "detach",
      opts,
      {
        kind: "change",
        outcome: "restored",
        argv: ["qm", "set", "101", "--hookscript", chain.volid],
        dropChain: true,
      },
    ],
    ["detach, other", guest({ hookscript: "nas:snippets/b.sh" }), "detach", opts, { kind: "keep" }],
    ["detach, none", guest(), "detach", opts, { kind: "keep" }],
  ] as const)("%s", (_name, g, action, o, expected) => {
    expect(planGuest(g, action, o)).toMatchObject(expected);
  });
});

describe("chain records and status text", () => {
  it("a chain record is read only when every field is right and it is this guest's", () => {
    const good = { vmid: 101, volid: "local:snippets/a", path: "/var/lib/vz/snippets/a", chainedAt: "t" };
    expect(parseChainRecord(JSON.stringify(good), 101)).toEqual(good);
    expect(parseChainRecord(JSON.stringify(good), 102)).toBeUndefined();
    expect(parseChainRecord(JSON.stringify({ ...good, path: "relative/a" }), 101)).toBeUndefined();
    expect(parseChainRecord(JSON.stringify({ ...good, volid: 7 }), 101)).toBeUndefined();
    expect(parseChainRecord("[1]", 101)).toBeUndefined();
  });

  it("status lines name the owner, the volume, the file state and what ours chains", () => {
    const lines = renderStatus({
      ours: OUR_VOLID,
      missing: [107],
      exitCode: 0,
      guests: [
        {
          vmid: 101,
          type: "qemu",
          node: "pve1",
          hookscript: "ours",
          volid: OUR_VOLID,
          file: { state: "ok", path: "/var/lib/vz/snippets/pvemigrate-dns.mjs" },
          chained: {
            volid: "local:snippets/b.sh",
            file: { state: "missing", path: "/var/lib/vz/snippets/b.sh" },
          },
        },
        { vmid: 102, type: "lxc", node: "pve3", hookscript: "unknown", error: "cannot read its config: 595" },
      ],
    });
    expect(lines).toEqual([
      `VM 101 qemu on pve1: ours ${OUR_VOLID}, file ok; chained local:snippets/b.sh, file missing (/var/lib/vz/snippets/b.sh)`,
      "VM 102 lxc on pve3: unknown: cannot read its config: 595",
      "configured but not shown by the API: VM 107",
    ]);
  });
});
