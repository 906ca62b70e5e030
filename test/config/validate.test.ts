import { chmodSync, writeFileSync } from "node:fs";
import { isAbsolute, join, relative } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { configPath, loadConfig } from "../../lib/config/load.ts";
import { baseDoc, type Doc, type Fixture, makeFixture, problemsOf as problemsOfDoc } from "./fixture.ts";

let fx: Fixture;
beforeEach(() => {
  fx = makeFixture();
});
afterEach(() => fx.cleanup());

const problemsOf = (mutate: (doc: Doc) => void) => problemsOfDoc(fx, mutate);

describe("config loading", () => {
  it("accepts the base config and normalizes it", async () => {
    const { config, secrets } = await loadConfig(fx.write(baseDoc()));
    expect(config.dns.masters).toEqual([
      { host: "10.10.3.53", port: 53 },
      { host: "10.10.1.53", port: 5353 },
    ]);
    expect(config.vms["101"]?.forward).toEqual([
      { proto: "tcp", publicPort: 25, privatePort: 25 },
      { proto: "tcp", publicPort: 2222, privatePort: 22 },
    ]);
    expect(config.vms["101"]?.sni).toEqual([{ name: "webmail.example.org", port: 443 }]);
    expect(config.vms["101"]?.nodes).toEqual(["pve1", "pve2"]);
    expect(config.dns.ttl).toBe(60);
    expect(config.dns.timeoutMs).toBe(700);
    expect(config.dns.fullReadMinutes).toBe(10);
    expect(config.graceSeconds).toBe(120);
    expect(config.nat.table).toBe("pvemigrate");
    expect(config.nodes.pve1?.sshHost).toBe("10.10.0.1");
    expect(config.proxmox.tokenSecretFile).toBe(join(fx.dir, "token"));
    expect(secrets.tsig.reveal()).toMatch(/^c2Vj/);
  });

  it("reads JSON as well as YAML", async () => {
    const { config } = await loadConfig(fx.write(baseDoc(), "cluster.json"));
    expect(Object.keys(config.nodes)).toEqual(["pve1", "pve2"]);
  });

  it("takes durations with units", async () => {
    const doc = baseDoc();
    doc.graceSeconds = "2m";
    doc.dns.timeoutMs = "1.5s";
    const { config } = await loadConfig(fx.write(doc));
    expect(config.graceSeconds).toBe(120);
    expect(config.dns.timeoutMs).toBe(1500);
  });

  it("--config wins over PVEMIGRATE_DNS_CONFIG, which wins over the pmxcfs default", () => {
    expect(configPath("/a.yaml", { PVEMIGRATE_DNS_CONFIG: "/b.yaml" })).toBe("/a.yaml");
    expect(configPath(undefined, { PVEMIGRATE_DNS_CONFIG: "/b.yaml" })).toBe("/b.yaml");
    expect(configPath(undefined, {})).toBe("/etc/pve/pvemigrate-dns.yaml");
  });

  it("config.source is the absolute path, also when --config was relative", async () => {
    const file = fx.write(baseDoc());
    const relativePath = relative(process.cwd(), file);
    expect(isAbsolute(relativePath)).toBe(false);
    const { config } = await loadConfig(relativePath);
    expect(config.source).toBe(file);
  });

  it("names a missing config file", async () => {
    await expect(loadConfig(join(fx.dir, "nope.yaml"))).rejects.toThrow(/nope\.yaml does not exist/);
  });
});

describe("field validation names the exact field", () => {
  const cases: Array<[string, (d: Doc) => void, string]> = [
    [
      "port out of range",
      (d) => (d.vms[101].forward[1] = "tcp/70000"),
      "vms.101.forward[1]: port 70000 is out of range 1-65535",
    ],
    [
      "private port out of range",
      (d) => (d.vms[101].forward[1] = "tcp/2222:0"),
      "vms.101.forward[1]: port 0 is out of range 1-65535",
    ],
    [
      "bad forward syntax",
      (d) => (d.vms[102].forward[0] = "sctp/9"),
      'vms.102.forward[0]: "sctp/9" is not proto/public[:private]',
    ],
    [
      "bad node IP",
      (d) => (d.nodes.pve2.publicIPv4 = "198.51.100.300"),
      'nodes.pve2.publicIPv4: "198.51.100.300" is not an IPv4 address',
    ],
    [
      "bad private IP",
      (d) => (d.nodes.pve1.privateIP = "10.10.0"),
      'nodes.pve1.privateIP: "10.10.0" is not an IPv4 address',
    ],
    [
      "bad IPv6",
      (d) => (d.nodes.pve1.publicIPv6 = "2001:db8::zz"),
      'nodes.pve1.publicIPv6: "2001:db8::zz" is not an IPv6 address',
    ],
    ["bad CIDR", (d) => (d.vmNetwork = "10.10.0.0/33"), 'vmNetwork: "10.10.0.0/33" is not an IPv4 CIDR'],
    [
      "bad VM ip",
      (d) => (d.vms[102].ip = "dhcp"),
      'vms.102.ip: "dhcp" is not an IPv4 address, "agent", "dnsmasq" or "mac"',
    ],
    [
      "bad interface",
      (d) => (d.nodes.pve1.publicInterface = "eth0; reboot"),
      "nodes.pve1.publicInterface: must be an interface name",
    ],
    [
      "bad hostname label",
      (d) => (d.vms[101].dns[0] = "-mail.example.org"),
      'vms.101.dns[0]: "-mail.example.org" has a label that starts or ends with a hyphen',
    ],
    [
      "hostname with underscore",
      (d) => (d.vms[101].sni[0] = "web_mail.example.org"),
      'vms.101.sni[0]: "web_mail.example.org" is not a valid host name',
    ],
    [
      "hostname with space",
      (d) => (d.vms[101].http[0] = "a.example; reload"),
      'vms.101.http[0]: "a.example; reload" is not a valid host name',
    ],
    ["label too long", (d) => (d.vms[101].dns[0] = `${"a".repeat(64)}.example.org`), "vms.101.dns[0]:"],
    [
      "empty label",
      (d) => (d.vms[102].dns[0] = "shop..example.org"),
      'vms.102.dns[0]: "shop..example.org" has an empty label',
    ],
    [
      "master bad port",
      (d) => (d.dns.masters[1] = "10.10.1.53:99999"),
      "dns.masters[1]: port 99999 is out of range 1-65535",
    ],
    [
      "master bare IPv6 with port",
      (d) => (d.dns.masters[0] = "fd00::53:5353x"),
      'dns.masters[0]: "fd00::53:5353x"',
    ],
    [
      "master junk",
      (d) => (d.dns.masters[0] = "10.10.3"),
      'dns.masters[0]: "10.10.3" is not host or host:port',
    ],
    [
      "TSIG algorithm",
      (d) => (d.dns.tsig.algorithm = "hmac-md5"),
      'dns.tsig.algorithm: "hmac-md5" is not one of hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512',
    ],
    ["duration", (d) => (d.graceSeconds = "two minutes"), 'graceSeconds: "two minutes" is not a duration'],
    ["timeout duration", (d) => (d.dns.timeoutMs = -5), "dns.timeoutMs: -5 is not a non-negative duration"],
    ["ttl", (d) => (d.dns.ttl = 0), "dns.ttl: must be at least 1"],
    [
      "full read bound below 0",
      (d) => (d.dns.fullReadMinutes = -1),
      "dns.fullReadMinutes: must be at least 0",
    ],
    [
      "full read bound over a day",
      (d) => (d.dns.fullReadMinutes = 1441),
      "dns.fullReadMinutes: must be at most 1440",
    ],
    ["DNS attempt too short", (d) => (d.dns.timeoutMs = 10), "dns.timeoutMs: 10 is less than 50ms"],
    [
      "API connect too short",
      (d) => (d.proxmox.connectTimeoutMs = "20ms"),
      "proxmox.connectTimeoutMs: 20ms is less than 50ms",
    ],
    [
      "API request too short",
      (d) => (d.proxmox.requestTimeoutMs = 0),
      "proxmox.requestTimeoutMs: 0 is less than 50ms",
    ],
    ["no migration watch", (d) => (d.migrationWatchSeconds = 0), "migrationWatchSeconds: 0 is less than 1s"],
    [
      "migration watch rounds to 0",
      (d) => (d.migrationWatchSeconds = "400ms"),
      "migrationWatchSeconds: 400ms is less than a second",
    ],
    ["grace rounds to 0", (d) => (d.graceSeconds = "100ms"), "graceSeconds: 100ms is less than a second"],
    [
      "grace as a fraction rounding to 0",
      (d) => (d.graceSeconds = 0.2),
      "graceSeconds: 0.2 is less than a second",
    ],
    [
      "token id",
      (d) => (d.proxmox.tokenId = "root@pam"),
      'proxmox.tokenId: must look like "user@realm!tokenname"',
    ],
    ["endpoint", (d) => (d.proxmox.endpoints = ["ftp://x"]), "proxmox.endpoints[0]: must be a URL"],
    [
      "endpoint not a URL",
      (d) => (d.proxmox.endpoints = ["not a url"]),
      "proxmox.endpoints[0]: must be a URL",
    ],
    [
      "remote command word with a space",
      (d) => (d.remote = { command: ["/usr/bin/pvemigrate-dns", "--x y"] }),
      "remote.command[1]: must be a plain word or path (letters, digits, '_', '.', '/', ':', '-'): ssh hands it to the remote shell",
    ],
    [
      "remote command word with shell syntax",
      (d) => (d.remote = { command: ["pvemigrate-dns;reboot"] }),
      "remote.command[0]: must be a plain word or path",
    ],
    [
      "empty remote command word",
      (d) => (d.remote = { command: [""] }),
      "remote.command[0]: must be a plain word",
    ],
    ["vm id", (d) => (d.vms.abc = { ip: "10.10.9.9" }), "vms.abc"],
    ["unknown field", (d) => (d.nodes.pve1.publicIpv4 = "1.2.3.4"), "nodes.pve1:"],
    ["missing field", (d) => delete d.nodes.pve2.publicInterface, "nodes.pve2.publicInterface:"],
  ];
  for (const [what, mutate, expected] of cases) {
    it(what, async () => {
      const problems = await problemsOf(mutate);
      expect(problems.some((p) => p.startsWith(expected))).toBe(true);
      expect(problems.length).toBeGreaterThan(0);
    });
  }

  it("plain http:// endpoints only on loopback: the API token never crosses a network in clear text", async () => {
    const problems = await problemsOf(
      (d) =>
        (d.proxmox.endpoints = [
          "http://127.0.0.1:8006",
          "http://[::1]:8006",
          "http://localhost:8006",
          "http://10.10.0.2:8006",
          "https://10.10.0.2:8006",
          "http://pve2.example.org:8006",
        ]),
    );
    expect(problems).toEqual([
      "proxmox.endpoints[3]: http://10.10.0.2:8006 would send the API token in clear text: use https:// (http:// only for 127.0.0.0/8, ::1, localhost)",
      "proxmox.endpoints[5]: http://pve2.example.org:8006 would send the API token in clear text: use https:// (http:// only for 127.0.0.0/8, ::1, localhost)",
    ]);
  });

  it("graceSeconds 0 is no grace, and short durations at their minimum are fine", async () => {
    const doc = baseDoc();
    doc.graceSeconds = 0;
    doc.migrationWatchSeconds = "1s";
    doc.dns.timeoutMs = "50ms";
    doc.dns.totalTimeoutMs = 50;
    doc.proxmox.connectTimeoutMs = 50;
    const { config } = await loadConfig(fx.write(doc));
    expect(config.graceSeconds).toBe(0);
    expect(config.migrationWatchSeconds).toBe(1);
    expect(config.dns.totalTimeoutMs).toBe(50);
  });

  it("dns.totalTimeoutMs must leave room for one attempt", async () => {
    const problems = await problemsOf((d) => {
      d.dns.timeoutMs = "2s";
      d.dns.totalTimeoutMs = 1500;
    });
    expect(problems).toEqual([
      "dns.totalTimeoutMs: 1500ms is less than dns.timeoutMs (2000ms): not even one attempt would fit",
    ]);
  });

  it("masters accept host, host:port and bracketed IPv6", async () => {
    const doc = baseDoc();
    doc.dns.masters = ["10.10.3.53", "10.10.1.53:5353", "[fd00::53]:5353", "fd00::54", "ns1.example.org:53"];
    const { config } = await loadConfig(fx.write(doc));
    expect(config.dns.masters).toEqual([
      { host: "10.10.3.53", port: 53 },
      { host: "10.10.1.53", port: 5353 },
      { host: "fd00::53", port: 5353 },
      { host: "fd00::54", port: 53 },
      { host: "ns1.example.org", port: 53 },
    ]);
  });
});

describe("cross-field checks", () => {
  it("reports a public port claimed by two VMs, naming both", async () => {
    const problems = await problemsOf((d) => d.vms[102].forward.push("tcp/2222:22"));
    expect(problems).toContain(
      "vms.102.forward[1]: tcp/2222 is also claimed by VM 101 (vms.101.forward[1]); VMs 101 and 102 would collide on a shared node",
    );
  });

  it("allows the same port on VMs that can never share a node", async () => {
    const problems = await problemsOf((d) => {
      d.vms[101].nodes = ["pve1"];
      d.vms[102].nodes = ["pve2"];
      d.vms[102].forward.push("tcp/25");
    });
    expect(problems).toEqual([]);
  });

  it("the same port on tcp and udp is no clash", async () => {
    expect(await problemsOf((d) => d.vms[102].forward.push("udp/25"))).toEqual([]);
  });

  it("reports a forward on the proxy's port", async () => {
    const problems = await problemsOf((d) => d.vms[102].forward.push("tcp/443"));
    expect(problems).toContain(
      "vms.102.forward[1]: tcp/443 is the haproxy port of every node: use sni/http routes for it",
    );
  });

  it("reports a forward on a node's own sshd, suggesting a free port", async () => {
    const problems = await problemsOf((d) => d.vms[102].forward.push("tcp/22"));
    expect(problems).toEqual([
      "vms.102.forward[1]: tcp/22 is reserved on every node (reservedPorts: sshd); use e.g. tcp/2223:22",
    ]);
  });

  it("reserves the Proxmox API, spiceproxy, rpcbind and corosync by default", async () => {
    const problems = await problemsOf((d) => {
      d.vms[102].forward = ["tcp/8006", "tcp/3128", "udp/111", "udp/5409:9"];
    });
    expect(problems).toEqual([
      "vms.102.forward[0]: tcp/8006 is reserved on every node (reservedPorts: pveproxy); use e.g. tcp/18006:8006",
      "vms.102.forward[1]: tcp/3128 is reserved on every node (reservedPorts: spiceproxy); use e.g. tcp/13128:3128",
      "vms.102.forward[2]: udp/111 is reserved on every node (reservedPorts: rpcbind); use e.g. udp/2311:111",
      "vms.102.forward[3]: udp/5409 is reserved on every node (reservedPorts: corosync); use e.g. udp/15409:9",
    ]);
  });

  it("reservedPorts replaces the default list", async () => {
    const problems = await problemsOf((d) => {
      d.reservedPorts = ["tcp/9000-9100"];
      d.vms[102].forward = ["tcp/22", "tcp/9050"];
    });
    expect(problems).toEqual([
      "vms.102.forward[1]: tcp/9050 is reserved on every node (reservedPorts: tcp/9000-9100); use e.g. tcp/19050:9050",
    ]);
  });

  it("names a malformed reservedPorts entry", async () => {
    expect(await problemsOf((d) => (d.reservedPorts = ["tcp/22", "tcp/200-100"]))).toEqual([
      'reservedPorts[1]: "tcp/200-100": 100 is below 200',
    ]);
    expect(await problemsOf((d) => (d.reservedPorts = ["ssh"]))).toEqual([
      'reservedPorts[0]: "ssh" is not proto/port or proto/low-high (proto tcp or udp)',
    ]);
  });

  it("reports a DNS name claimed by two VMs", async () => {
    const problems = await problemsOf((d) => d.vms[102].dns.push("mail.example.org"));
    expect(problems).toContain("vms.102.dns[1]: mail.example.org is also claimed by VM 101 (vms.101.dns[0])");
  });

  it("reports an SNI name claimed by two VMs", async () => {
    const problems = await problemsOf((d) => (d.vms[102].sni = ["webmail.example.org"]));
    expect(problems).toContain(
      "vms.102.sni[0]: webmail.example.org is also claimed by VM 101 (vms.101.dns[0])".replace(
        "dns[0]",
        "sni[0]",
      ),
    );
  });

  it("reports an HTTP name claimed by two VMs (case-insensitively)", async () => {
    const problems = await problemsOf((d) => (d.vms[102].http = ["WebMail.Example.org"]));
    expect(problems).toContain(
      "vms.102.http[0]: webmail.example.org is also claimed by VM 101 (vms.101.sni[0])",
    );
  });

  it("reports a DNS name outside the zone", async () => {
    const problems = await problemsOf((d) => d.vms[101].dns.push("mail.example.net"));
    expect(problems).toContain("vms.101.dns[1]: mail.example.net is outside dns.zone example.org");
  });

  it("a name that merely ends like the zone is outside it", async () => {
    const problems = await problemsOf((d) => d.vms[101].dns.push("badexample.org"));
    expect(problems).toContain("vms.101.dns[1]: badexample.org is outside dns.zone example.org");
  });

  it("reports unknown node names", async () => {
    const problems = await problemsOf((d) => (d.vms[101].nodes = ["pve1", "pve9"]));
    expect(problems).toContain('vms.101.nodes[1]: unknown node "pve9" (known: pve1, pve2)');
  });

  it("reports two nodes with one public IP", async () => {
    const problems = await problemsOf((d) => (d.nodes.pve2.publicIPv4 = "203.0.113.10"));
    expect(problems).toContain("nodes.pve2.publicIPv4: 203.0.113.10 is also the public IP of node pve1");
  });

  it("reports a static VM IP outside the VM network and a shared VM IP", async () => {
    const problems = await problemsOf((d) => {
      d.vms[101].ip = "192.168.1.5";
      d.vms[102].ip = "192.168.1.5";
    });
    expect(problems).toContain("vms.101.ip: 192.168.1.5 is outside vmNetwork 10.10.0.0/16");
    expect(problems).toContain("vms.102.ip: 192.168.1.5 is also the IP of VM 101");
  });

  it("reports a static VM IP that is a node's privateIP", async () => {
    const problems = await problemsOf((d) => (d.vms[101].ip = "10.10.0.1"));
    expect(problems).toEqual(["vms.101.ip: 10.10.0.1 is node pve1's privateIP"]);
  });

  it("reports a static VM IP on the vmNetwork's network or broadcast address", async () => {
    const problems = await problemsOf((d) => {
      d.vms[101].ip = "10.10.0.0";
      d.vms[102].ip = "10.10.255.255";
    });
    expect(problems).toEqual([
      "vms.101.ip: 10.10.0.0 is the network address of vmNetwork 10.10.0.0/16",
      "vms.102.ip: 10.10.255.255 is the broadcast address of vmNetwork 10.10.0.0/16",
    ]);
  });
});

describe("trust boundary: what the file allows guests and routes", () => {
  it("Notes are off by default, with an empty policy", async () => {
    const { config } = await loadConfig(fx.write(baseDoc()));
    expect(config.notes).toEqual({
      enabled: false,
      dnsSuffixes: [],
      ports: [],
      maxNames: 16,
      maxForwards: 16,
      ip: "dnsmasq",
    });
  });

  it("reads the Notes policy and the per-VM switches", async () => {
    const doc = baseDoc();
    doc.notes = {
      enabled: true,
      dnsSuffixes: ["Tenants.Example.org"],
      ports: ["tcp/20000-20999", "udp/20000-20999"],
      maxNames: 4,
      maxForwards: 2,
      ip: "agent",
    };
    doc.vms[101].notesAllowed = false;
    doc.vms[102].externalNames = true;
    doc.vms[102].sni = ["shop.example.net"];
    const { config } = await loadConfig(fx.write(doc));
    expect(config.notes.dnsSuffixes).toEqual(["tenants.example.org"]);
    expect(config.notes.ports).toEqual([
      { proto: "tcp", from: 20000, to: 20999 },
      { proto: "udp", from: 20000, to: 20999 },
    ]);
    expect(config.vms["101"]?.notesAllowed).toBe(false);
    expect(config.vms["102"]?.externalNames).toBe(true);
    expect(config.vms["102"]?.sni).toEqual([{ name: "shop.example.net", port: 443 }]);
  });

  it("an SNI or HTTP route for a name outside dns.zone needs externalNames: true on that VM", async () => {
    const problems = await problemsOf((d) => {
      d.vms[101].sni.push("accounts.google.com");
      d.vms[101].http.push("example.net");
    });
    expect(problems).toEqual([
      "vms.101.sni[1]: accounts.google.com is outside dns.zone example.org (set externalNames: true on VM 101 to route it anyway)",
      "vms.101.http[1]: example.net is outside dns.zone example.org (set externalNames: true on VM 101 to route it anyway)",
    ]);
  });

  it("externalNames allows routes outside the zone, never DNS names outside it", async () => {
    const problems = await problemsOf((d) => {
      d.vms[101].externalNames = true;
      d.vms[101].sni.push("accounts.example.net");
      d.vms[101].dns.push("accounts.example.net");
    });
    expect(problems).toEqual(["vms.101.dns[1]: accounts.example.net is outside dns.zone example.org"]);
  });

  it("the zone apex and names in it stay routable from the file", async () => {
    expect(await problemsOf((d) => (d.vms[102].sni = ["example.org", "pve1.example.org"]))).toEqual([]);
  });

  it("names a Notes policy suffix outside dns.zone and a bad policy port", async () => {
    const problems = await problemsOf((d) => {
      d.notes = { enabled: true, dnsSuffixes: ["tenants.example.net"], ports: ["tcp/20000-19000"] };
    });
    expect(problems).toEqual(['notes.ports[0]: "tcp/20000-19000": 19000 is below 20000']);
    const suffix = await problemsOf(
      (d) => (d.notes = { enabled: true, dnsSuffixes: ["tenants.example.net"] }),
    );
    expect(suffix).toEqual(["notes.dnsSuffixes[0]: tenants.example.net is outside dns.zone example.org"]);
  });

  it("a Notes block cannot be given a static address source in the policy", async () => {
    const problems = await problemsOf((d) => (d.notes = { ip: "10.10.1.5" }));
    expect(problems).toEqual(['notes.ip: "10.10.1.5" is not one of agent, dnsmasq, mac']);
  });

  it("a static VM IP on a node's VM bridge address (vmGateway, default the first usable address) is refused", async () => {
    const byDefault = await problemsOf((d) => {
      d.nodes.pve1.privateIP = "10.99.0.1";
      d.vms[101].ip = "10.10.0.1";
    });
    expect(byDefault).toEqual(["vms.101.ip: 10.10.0.1 is node pve1's VM bridge address (vmGateway)"]);
    const explicit = await problemsOf((d) => {
      d.nodes.pve1.vmGateway = "10.10.1.1";
      d.nodes.pve2.vmGateway = "10.10.2.1";
      d.vms[102].ip = "10.10.2.1";
    });
    expect(explicit).toEqual(["vms.102.ip: 10.10.2.1 is node pve2's VM bridge address (vmGateway)"]);
  });

  it("reports a vmGateway outside the VM network", async () => {
    const problems = await problemsOf((d) => (d.nodes.pve2.vmGateway = "192.168.0.1"));
    expect(problems).toEqual(["nodes.pve2.vmGateway: 192.168.0.1 is outside vmNetwork 10.10.0.0/16"]);
  });
});

describe("secret files", () => {
  it("reports a missing secret file by path", async () => {
    const problems = await problemsOf((d) => (d.dns.tsig.secretFile = "missing.tsig"));
    expect(problems).toContain(`dns.tsig.secretFile: ${join(fx.dir, "missing.tsig")} does not exist`);
  });

  it("reports an empty secret file", async () => {
    writeFileSync(join(fx.dir, "empty"), "\n", { mode: 0o600 });
    const problems = await problemsOf((d) => (d.proxmox.tokenSecretFile = "empty"));
    expect(problems).toContain(`proxmox.tokenSecretFile: ${join(fx.dir, "empty")} is empty`);
  });

  it("reports a secret file readable by group or others", async () => {
    chmodSync(join(fx.dir, "tsig"), 0o640);
    const problems = await problemsOf(() => {});
    expect(problems).toContain(
      `dns.tsig.secretFile: ${join(fx.dir, "tsig")} is readable by group/others (mode 640): chmod 600 it`,
    );
  });

  it("accepts a tsig-keygen key clause", async () => {
    writeFileSync(
      join(fx.dir, "tsig"),
      'key "pvemigrate-key" {\n\talgorithm hmac-sha256;\n\tsecret "QUJDREVGR0g=";\n};\n',
      { mode: 0o600 },
    );
    const { secrets } = await loadConfig(fx.write(baseDoc()));
    expect(secrets.tsig.reveal()).toBe("QUJDREVGR0g=");
  });

  it("reports a TSIG file that is not base64, without printing it", async () => {
    writeFileSync(join(fx.dir, "tsig"), "not base64 at all!\n", { mode: 0o600 });
    const problems = await problemsOf(() => {});
    expect(problems.join("\n")).toContain("does not hold a base64 TSIG secret");
    expect(problems.join("\n")).not.toContain("not base64 at all");
  });
});

describe("all problems at once", () => {
  it("lists schema problems and secret-file problems together", async () => {
    const problems = await problemsOf((d) => {
      d.vms[101].forward[1] = "tcp/70000";
      d.nodes.pve1.privateIP = "nope";
      d.dns.tsig.algorithm = "md5";
      d.dns.tsig.secretFile = "gone";
    });
    expect(problems).toHaveLength(4);
    expect(problems.map((p) => p.split(":")[0])).toEqual([
      "nodes.pve1.privateIP",
      "dns.tsig.algorithm",
      "vms.101.forward[1]",
      "dns.tsig.secretFile",
    ]);
  });

  it("lists several cross-field problems together", async () => {
    const problems = await problemsOf((d) => {
      d.vms[102].forward.push("tcp/25");
      d.vms[102].dns.push("mail.example.org");
      d.vms[101].dns.push("x.example.com");
    });
    expect(problems).toHaveLength(3);
  });
});
