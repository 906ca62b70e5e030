import { describe, expect, it } from "vitest";
import { judgeLinks, judgeQuorum, quorumMath } from "../../lib/doctor/check-corosync.ts";
import { addressScope, parseCorosyncConf } from "../../lib/doctor/corosync.ts";
import { ok } from "../../lib/doctor/types.ts";

// The cluster's wiring, purely: corosync.conf read as Proxmox reads it, its
// links' addresses judged, votequorum's arithmetic.

/** pve-cluster src/test/corosync_configs/multiple-nodes.conf (Proxmox's own parser test input), first two nodes. */
const PVE_TEST_CONF = `logging {
  debug: off
  to_syslog: yes
}

nodelist {
  node {
    name: prox1
    nodeid: 1
    quorum_votes: 1
    ring0_addr: prox1
    ring1_addr: prox1-ring1
  }
  node {
    name: prox2
    nodeid: 1
    quorum_votes: 1
    ring0_addr: prox2
    ring1_addr: prox2-ring1
  }
}

quorum {
  provider: corosync_votequorum
}

totem {
  cluster_name: cloud
  config_version: 1
  interface {
    bindnetaddr: 192.168.0.42
    ringnumber: 0
  }
  ip_version: ipv4
  secauth: on
  version: 2
}
`;

/** What `pvecm create` + `pvecm add` + `pvecm qdevice setup` write on PVE 8/9 (Corosync.pm create_conf, pvecm.pm setup_qdevice). */
const conf = (nodes: Array<[string, string, number?]>, quorum = "") => `nodelist {
${nodes
  .map(
    ([name, addr, votes], i) => `  node {
    name: ${name}
    nodeid: ${i + 1}
    quorum_votes: ${votes ?? 1}
    ring0_addr: ${addr}
  }`,
  )
  .join("\n")}
}

quorum {
  provider: corosync_votequorum
${quorum}
}

totem {
  cluster_name: c   # a comment
  config_version: 3
  interface {
    linknumber: 0
  }
  ip_version: ipv4-6
  link_mode: passive
  secauth: on
  version: 2
}
`;
const QDEVICE =
  "  device {\n    model: net\n    votes: 1\n    net {\n      algorithm: ffsplit\n      host: 10.99.0.9\n      tls: on\n    }\n  }";

const NODES = {
  pve1: { publicIPv4: "203.0.113.10" },
  pve2: { publicIPv4: "203.0.113.20", publicIPv6: "2001:db8::20" },
} as const;
const cfg = { nodes: NODES } as unknown as Parameters<typeof judgeLinks>[1];

describe("parseCorosyncConf (as pve-cluster Corosync.pm parse_conf)", () => {
  it("reads Proxmox's own test config: names, ring0/ring1 addresses, votes, provider", () => {
    const c = parseCorosyncConf(PVE_TEST_CONF);
    expect(c.clusterName).toBe("cloud");
    expect(c.nodes).toEqual([
      {
        name: "prox1",
        nodeid: 1,
        votes: 1,
        links: [
          { link: 0, address: "prox1" },
          { link: 1, address: "prox1-ring1" },
        ],
      },
      {
        name: "prox2",
        nodeid: 1,
        votes: 1,
        links: [
          { link: 0, address: "prox2" },
          { link: 1, address: "prox2-ring1" },
        ],
      },
    ]);
    expect(c.quorum).toEqual({ provider: "corosync_votequorum", twoNode: false });
  });
  it("reads a QDevice section and two_node", () => {
    const c = parseCorosyncConf(conf([["a", "10.0.0.1"]], `${QDEVICE}\n  two_node: 1\n  expected_votes: 3`));
    expect(c.quorum).toEqual({
      provider: "corosync_votequorum",
      twoNode: true,
      expectedVotes: 3,
      device: { model: "net", votes: 1, algorithm: "ffsplit", host: "10.99.0.9" },
    });
  });
  it.each([
    ["nodelist {\n node {\n name pve1\n }\n}", /missing ':' after key 'name'/],
    ["totem {\n}\n}", /unexpected '}'/],
    ["totem {\n version:", /no value for 'version'/],
    ["totem {\n version: 2\n", /not closed/],
    ["totem {\n}\ntotem {\n}", /section 'totem' already exists/],
  ])("refuses what parse_conf refuses: %j", (text, error) => {
    expect(() => parseCorosyncConf(text)).toThrow(error);
  });
});

describe("addressScope", () => {
  it.each([
    ["10.99.0.1", "private"],
    ["172.20.1.1", "private"],
    ["192.168.1.1", "private"],
    ["100.64.0.7", "private"],
    ["fd10::1", "private"],
    ["127.0.0.1", "loopback"],
    ["::1", "loopback"],
    ["203.0.113.10", "public"],
    ["172.32.0.1", "public"],
    ["2001:db8::1", "public"],
    ["pve1-mesh", "hostname"],
  ])("%s is %s", (address, scope) => {
    expect(addressScope(address)).toBe(scope);
  });
});

describe("judgeLinks", () => {
  it("one ok per link when every node is on the mesh", () => {
    const c = parseCorosyncConf(
      conf([
        ["pve1", "10.99.0.1"],
        ["pve2", "10.99.0.2"],
      ]),
    );
    expect(judgeLinks(c, cfg, new Map())).toEqual([
      ok("corosync", "corosync link0 is private on every node (pve1 10.99.0.1, pve2 10.99.0.2)"),
    ]);
  });
  it("a public ring is one warning for the link, naming the node and which public address it is", () => {
    const c = parseCorosyncConf(
      conf([
        ["pve1", "10.99.0.1"],
        ["pve2", "203.0.113.20"],
      ]),
    );
    const [f, ...rest] = judgeLinks(c, cfg, new Map());
    expect(rest).toEqual([]);
    expect(f).toMatchObject({
      check: "corosync",
      status: "warn",
      message: "corosync link0 runs over public addresses: pve2 203.0.113.20 (pve2's publicIPv4)",
    });
    expect(f?.hint).toMatch(/ring0_addr.*config_version/);
  });
  it("host names are judged by what they resolve to; unresolvable ones are said so", () => {
    const c = parseCorosyncConf(
      conf([
        ["pve1", "pve1-ring"],
        ["pve2", "pve2-ring"],
      ]),
    );
    const resolved = new Map([
      ["pve1-ring", ["10.99.0.1"]],
      ["pve2-ring", ["198.51.100.20"]],
    ]);
    expect(judgeLinks(c, cfg, resolved)[0]?.message).toBe(
      "corosync link0 runs over public addresses: pve2 pve2-ring (198.51.100.20)",
    );
    expect(judgeLinks(c, cfg, new Map([["pve1-ring", ["10.99.0.1"]]]))[0]).toMatchObject({
      status: "warn",
      message: "corosync link0: cannot resolve pve2 pve2-ring",
    });
  });
  it("a loopback address on a multi-node cluster fails", () => {
    const c = parseCorosyncConf(
      conf([
        ["pve1", "127.0.0.1"],
        ["pve2", "10.99.0.2"],
      ]),
    );
    expect(judgeLinks(c, cfg, new Map())[0]?.status).toBe("fail");
  });
});

describe("quorum", () => {
  const status = (online: Record<string, boolean>) => ({
    quorate: true,
    nodes: Object.entries(online).map(([name, on]) => ({ name, ip: "", online: on, local: false })),
  });
  it.each([
    // nodes (votes), quorum section -> total, needed, survives
    [[1, 1], "", 2, 2, 0],
    [[1, 1], QDEVICE, 3, 2, 1],
    [[1, 1], "  two_node: 1", 2, 1, 1],
    [[1, 1, 1], "", 3, 2, 1],
    [[1, 1, 1, 1], "", 4, 3, 1],
    [[1, 1, 1, 1, 1], "", 5, 3, 2],
    // A heavier node is a single point of failure: losing it (the worst case) loses quorum.
    [[2, 1, 1], "", 4, 3, 0],
  ])("votes %j with %j: total %i, needs %i, survives %i", (votes, q, total, needed, survives) => {
    const c = parseCorosyncConf(
      conf(
        votes.map((v, i) => [`pve${i + 1}`, `10.99.0.${i + 1}`, v]),
        q,
      ),
    );
    expect(quorumMath(c)).toMatchObject({ total, needed, survives });
  });
  it("a two-node cluster without QDevice warns once, with the pvecm command", () => {
    const c = parseCorosyncConf(
      conf([
        ["pve1", "10.99.0.1"],
        ["pve2", "10.99.0.2"],
      ]),
    );
    const f = judgeQuorum(c, status({ pve1: true, pve2: true }));
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ check: "quorum", status: "warn" });
    expect(f[0]?.message).toBe(
      "two-node cluster without a QDevice (2 nodes: 2 votes, quorum needs 2; 2 of 2 node(s) online): when any node fails the others lose quorum, /etc/pve turns read-only and no guest can start or move there",
    );
    expect(f[0]?.hint).toMatch(/pvecm qdevice setup/);
  });
  it("two nodes with a QDevice are fine; two_node is not", () => {
    const withDevice = parseCorosyncConf(
      conf(
        [
          ["pve1", "10.99.0.1"],
          ["pve2", "10.99.0.2"],
        ],
        QDEVICE,
      ),
    );
    expect(judgeQuorum(withDevice, undefined)).toEqual([
      ok(
        "quorum",
        "2 nodes + QDevice (net, ffsplit, 1 vote(s)): 3 votes, quorum needs 2; survives losing 1 node(s)",
      ),
    ]);
    const twoNode = parseCorosyncConf(
      conf(
        [
          ["pve1", "10.99.0.1"],
          ["pve2", "10.99.0.2"],
        ],
        "  two_node: 1",
      ),
    );
    expect(judgeQuorum(twoNode, undefined)[0]).toMatchObject({ status: "warn", message: /two_node is set/ });
  });
  it("a node corosync.conf lists but the cluster does not is named", () => {
    const c = parseCorosyncConf(
      conf([
        ["pve1", "10.99.0.1"],
        ["pve2", "10.99.0.2"],
        ["pve3", "10.99.0.3"],
      ]),
    );
    expect(judgeQuorum(c, status({ pve1: true, pve2: true }))[0]?.message).toMatch(
      /^corosync\.conf lists pve3, which \/cluster\/status does not/,
    );
  });
});
