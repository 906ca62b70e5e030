import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { ConfigError, loadConfig, MAX_CONFIG_BYTES } from "../../lib/config/load.ts";
import { formatProblem } from "../../lib/config/normalize.ts";
import { baseDoc, type Doc, type Fixture, makeFixture } from "./fixture.ts";

// Limits the config loader enforces beyond field syntax: durations with an
// upper bound (timers and nft timeouts stay valid), sshHost only a host,
// IPv6 fields never an IPv4-mapped address, every path relative to the config
// file, JSON held to YAML's key rules, and pmxcfs's per-file size.

let fx: Fixture;
beforeEach(() => {
  fx = makeFixture();
});
afterEach(() => fx.cleanup());

/** Problems of the file at `file` as "path: message" lines (none when it loads). */
async function problemsAt(file: string): Promise<string[]> {
  try {
    await loadConfig(file);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map(formatProblem);
  }
}

const problemsOf = (mutate: (doc: Doc) => void) => {
  const doc = baseDoc();
  mutate(doc);
  return problemsAt(fx.write(doc));
};

describe("durations have an upper bound", () => {
  const cases: Array<[string, (d: Doc) => void, string]> = [
    [
      "graceSeconds over a day",
      (d) => (d.graceSeconds = "25h"),
      "graceSeconds: 25h is more than a day (86400s)",
    ],
    // The value that became `timeout 999999999996458ms` in nft and a timer firing at once.
    [
      "graceSeconds far beyond any timer",
      (d) => (d.graceSeconds = 999_999_999_999),
      "graceSeconds: 999999999999 is more than a day (86400s)",
    ],
    [
      "migrationWatchSeconds over a day",
      (d) => (d.migrationWatchSeconds = 90_000),
      "migrationWatchSeconds: 90000 is more than a day (86400s)",
    ],
    ["dns.timeoutMs", (d) => (d.dns.timeoutMs = "2m"), "dns.timeoutMs: 2m is more than a minute (60000ms)"],
    [
      "dns.totalTimeoutMs",
      (d) => (d.dns.totalTimeoutMs = "1h"),
      "dns.totalTimeoutMs: 1h is more than 10 minutes (600000ms)",
    ],
    [
      "proxmox.connectTimeoutMs",
      (d) => (d.proxmox.connectTimeoutMs = 61_000),
      "proxmox.connectTimeoutMs: 61000 is more than a minute (60000ms)",
    ],
    [
      "proxmox.requestTimeoutMs",
      (d) => (d.proxmox.requestTimeoutMs = "11m"),
      "proxmox.requestTimeoutMs: 11m is more than 10 minutes (600000ms)",
    ],
  ];
  for (const [what, mutate, expected] of cases) {
    it(`${what}: one line naming the field`, async () => {
      expect(await problemsOf(mutate)).toEqual([expected]);
    });
  }

  it("every maximum itself is accepted", async () => {
    const doc = baseDoc();
    Object.assign(doc, { graceSeconds: "24h", migrationWatchSeconds: 86_400 });
    Object.assign(doc.dns, { timeoutMs: "1m", totalTimeoutMs: "10m" });
    Object.assign(doc.proxmox, { connectTimeoutMs: 60_000, requestTimeoutMs: "600s" });
    const { config } = await loadConfig(fx.write(doc));
    expect([config.graceSeconds, config.migrationWatchSeconds]).toEqual([86_400, 86_400]);
    expect([config.dns.timeoutMs, config.dns.totalTimeoutMs]).toEqual([60_000, 600_000]);
    expect([config.proxmox.connectTimeoutMs, config.proxmox.requestTimeoutMs]).toEqual([60_000, 600_000]);
  });
});

describe("sshHost is a host name or an address, never an ssh option", () => {
  for (const bad of [
    "-oProxyCommand=touch /tmp/pwned",
    "-p2222",
    "root@10.10.0.2",
    "pve2 -v",
    "pve2;reboot",
    "$(reboot)",
    "fe80::2%vmbr1",
    "10.10.0",
    "",
  ]) {
    it(`refuses ${JSON.stringify(bad)}`, async () => {
      expect(await problemsOf((d) => (d.nodes.pve2.sshHost = bad))).toEqual([
        `nodes.pve2.sshHost: ${JSON.stringify(bad)} is not a host name or an IPv4/IPv6 address`,
      ]);
    });
  }

  it("accepts a host name, an IPv4 and an IPv6 address", async () => {
    const doc = baseDoc();
    doc.nodes.pve1.sshHost = "pve1.mesh.example.org";
    doc.nodes.pve2.sshHost = "fd00::2";
    const { config } = await loadConfig(fx.write(doc));
    expect(config.nodes.pve1?.sshHost).toBe("pve1.mesh.example.org");
    expect(config.nodes.pve2?.sshHost).toBe("fd00::2");
    doc.nodes.pve2.sshHost = "10.10.0.2";
    expect((await loadConfig(fx.write(doc))).config.nodes.pve2?.sshHost).toBe("10.10.0.2");
  });
});

describe("IPv6 fields take no IPv4-mapped address", () => {
  for (const mapped of ["::ffff:203.0.113.10", "0:0:0:0:0:ffff:cb00:710a"]) {
    it(`publicIPv6 ${mapped} is refused as the IPv4 it is`, async () => {
      expect(await problemsOf((d) => (d.nodes.pve1.publicIPv6 = mapped))).toEqual([
        `nodes.pve1.publicIPv6: "${mapped}" is the IPv4 address 203.0.113.10 written as IPv6 (IPv4-mapped), not an IPv6 address`,
      ]);
    });
  }
  it("a VM's ip6 is refused as the IPv4 it is", async () => {
    expect(await problemsOf((d) => (d.vms[101].ip6 = "::ffff:10.10.1.101"))).toEqual([
      'vms.101.ip6: "::ffff:10.10.1.101" is the IPv4 address 10.10.1.101 written as IPv6 (IPv4-mapped)',
    ]);
  });
});

describe("paths are relative to the config file, whatever the working directory", () => {
  it("stateDir, pveRoot, dnsmasqLeases and the proxy's socket and map dir", async () => {
    const doc = baseDoc();
    Object.assign(doc, { stateDir: "state/{node}", pveRoot: "pve", dnsmasqLeases: "leases" });
    doc.proxy = { socket: "run/{node}/admin.sock", mapDir: "maps" };
    const { config } = await loadConfig(fx.write(doc));
    expect(process.cwd()).not.toBe(fx.dir);
    expect(config.stateDir).toBe(join(fx.dir, "state", "{node}"));
    expect(config.pveRoot).toBe(join(fx.dir, "pve"));
    expect(config.dnsmasqLeases).toBe(join(fx.dir, "leases"));
    expect(config.proxy.socket).toBe(join(fx.dir, "run", "{node}", "admin.sock"));
    expect(config.proxy.mapDir).toBe(join(fx.dir, "maps"));
    expect(config.proxmox.caFile).toBe(join(fx.dir, "pve", "pve-root-ca.pem"));
  });
});

describe("JSON configs follow YAML's key rules", () => {
  const jsonFile = (text: string) => {
    const file = join(fx.dir, "cluster.json");
    writeFileSync(file, text);
    return file;
  };
  /** The base document as JSON text, with `"vmNetwork": ...` spliced in at the top and `extra` in pve1. */
  const baseJson = (top: string, inPve1 = "") => {
    const text = JSON.stringify(baseDoc(), null, 1);
    return text
      .replace(/^\{/, `{${top}`)
      .replace('"publicInterface": "eno1"', `"publicInterface": "eno1"${inPve1}`);
  };

  it("a key given twice is an error naming it (JSON.parse would keep the last silently)", async () => {
    const file = jsonFile(
      baseJson(
        ' "graceSeconds": 60, "graceSeconds": 600,',
        ', "publicIPv4": "198.51.100.99", "sshHost": "a", "sshHost": "b"',
      ),
    );
    expect(await problemsAt(file)).toEqual([
      "graceSeconds: given twice in one object (JSON would silently keep the last)",
      "nodes.pve1.publicIPv4: given twice in one object (JSON would silently keep the last)",
      "nodes.pve1.sshHost: given twice in one object (JSON would silently keep the last)",
    ]);
  });

  it("keys are compared decoded (\\u0061 is a), and equal keys in different objects are fine", async () => {
    const file = jsonFile(baseJson(' "strict": true, "str\\u0069ct": false,'));
    expect(await problemsAt(file)).toEqual([
      "strict: given twice in one object (JSON would silently keep the last)",
    ]);
    // publicIPv4 in pve1 and pve2, ip in every VM, and strings holding braces and quotes.
    const fine = jsonFile(baseJson(' "stateDir": "/var/lib/x{\\"y\\":[1,2]}",'));
    expect(await problemsAt(fine)).toEqual([]);
  });

  it('"__proto__" is refused in JSON, escaped or not, and in YAML', async () => {
    expect(await problemsAt(jsonFile(baseJson(' "__proto__": {"strict": true},')))).toEqual([
      '__proto__: a key named "__proto__" is not allowed',
    ]);
    expect(
      await problemsAt(jsonFile(baseJson("", ', "sshHost": "a"').replace('"sshHost"', '"\\u005f_proto__"'))),
    ).toEqual(['nodes.pve1.__proto__: a key named "__proto__" is not allowed']);
    const yamlDoc = stringify(baseDoc()).replace("vms:\n", 'vms:\n  "__proto__": { ip: 10.10.1.9 }\n');
    const yamlFile = join(fx.dir, "proto.yaml");
    writeFileSync(yamlFile, yamlDoc);
    expect(await problemsAt(yamlFile)).toEqual(['vms.__proto__: a key named "__proto__" is not allowed']);
  });
});

describe("a config larger than pmxcfs's 1 MiB per file", () => {
  /** The base config padded with a YAML comment to exactly `bytes`. */
  const padded = (bytes: number) => {
    const text = stringify(baseDoc());
    const file = join(fx.dir, "big.yaml");
    writeFileSync(file, `${text}#${"x".repeat(bytes - text.length - 2)}\n`);
    return file;
  };

  it("is an error naming the file and the limit", async () => {
    const file = padded(MAX_CONFIG_BYTES + 1);
    expect(await problemsAt(file)).toEqual([
      `--config: ${file} is 1048577 bytes; pmxcfs (/etc/pve) holds at most 1 MiB (1048576 bytes) per file`,
    ]);
  });

  it("exactly 1 MiB still loads", async () => {
    expect(await problemsAt(padded(MAX_CONFIG_BYTES))).toEqual([]);
  });
});
