import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { dnsDelete, dnsSet, dnsShow, registerDnsCommands } from "../../bin/commands/dns.ts";
import { formatShow } from "../../bin/commands/dns-format.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { ExitCode } from "../../lib/errors.ts";
import { run } from "../../lib/process/run.ts";
import {
  type DnsDaemon,
  dig,
  digAnswer,
  freePort,
  generateTsigKey,
  startNamedPrimary,
  startNamedSecondary,
  type TsigKeyFixture,
} from "../support/named.ts";
import { writeNamedConfig } from "../support/named-config.ts";
import { missing } from "../support/requirements.ts";
import { closedPort, type FakeServer, silentUdp } from "./fake-servers.ts";

// `dns set|show|delete` with the real config loader (YAML + a tsig-keygen
// key file) against real named: the command functions, and the commander
// wiring with its printing and exit codes.

describe.skipIf(missing({ bins: ["named", "tsig-keygen", "dig"] }))("dns CLI commands", () => {
  let dir: string;
  let primary: DnsDaemon;
  let secondary: DnsDaemon;
  let key: TsigKeyFixture;
  let silent: FakeServer;

  /** Writes a config whose masters are the given ports; returns its path. */
  function configWith(ports: number[], name: string, extra: Record<string, unknown> = {}): string {
    return writeNamedConfig(join(dir, name), key, {
      ports,
      tsigFile: "pvemigrate.tsig",
      dns: { ttl: 120, ownerId: "cli-test", ...extra },
    });
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `pvemigrate-dns-cli-${process.pid}-`));
    key = await generateTsigKey("cli-key");
    // The key file exactly as tsig-keygen writes it: the loader must extract the secret.
    const keyFile = (await run(["tsig-keygen", "-a", "hmac-sha256", "cli-key"])).stdout.replace(
      /secret "[^"]+"/,
      `secret "${key.secret}"`,
    );
    await writeFile(join(dir, "pvemigrate.tsig"), keyFile);
    await writeFile(join(dir, "token"), "token-value\n");
    await chmod(join(dir, "pvemigrate.tsig"), 0o600);
    await chmod(join(dir, "token"), 0o600);
    const secondaryPort = await freePort();
    primary = await startNamedPrimary({
      zone: "example.org",
      keys: [key],
      records: ["legacy IN A 192.0.2.7"],
      notifyPorts: [secondaryPort],
    });
    secondary = await startNamedSecondary({
      zone: "example.org",
      primaryPort: primary.port,
      keys: [key],
      port: secondaryPort,
    });
    silent = await silentUdp();
  });

  afterAll(async () => {
    await Promise.allSettled([silent?.close(), secondary?.stop(), primary?.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  afterEach(() => {
    process.exitCode = undefined;
    vi.restoreAllMocks();
  });

  /** Runs the registered commands like the bin does; captures stdout/stderr text and the exit code. */
  async function cli(argv: string[]): Promise<{ out: string; err: string; code: number }> {
    let out = "";
    let err = "";
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    const program = new Command("pvemigrate-dns").option("--config <file>").exitOverride();
    registerDnsCommands(program, loadConfig, undefined, {
      out: (t) => (out += `${t}\n`),
      err: (t) => (err += `${t}\n`),
    });
    process.exitCode = undefined;
    await program.parseAsync(["node", "pvemigrate-dns", ...argv]);
    vi.restoreAllMocks();
    return { out, err, code: Number(process.exitCode ?? 0) };
  }

  it("dns set creates the name, with the TTL from config, and says which master accepted", async () => {
    const cfg = configWith([primary.port], "one.yaml");
    const r = await dnsSet(await loadConfig(cfg), {
      fqdn: "Web.Example.org.",
      addresses: ["192.0.2.10", "2001:db8::10"],
    });
    expect(r).toMatchObject({
      ok: true,
      exitCode: 0,
      outcome: { name: "web.example.org", status: "updated" },
    });
    expect(await dig(primary.port, "web.example.org", "AAAA")).toEqual(["2001:db8::10"]);
    expect(await digAnswer(primary.port, "web.example.org", "A")).toMatch(/\s120\s+IN\s+A\s+192\.0\.2\.10/);
  });

  it("dns set --json: result as JSON, never the secret; --ttl and --expect honoured", async () => {
    const cfg = configWith([primary.port], "json.yaml");
    const created = await cli([
      "--config",
      cfg,
      "dns",
      "set",
      "api.example.org",
      "192.0.2.20",
      "--expect",
      "none",
      "--json",
    ]);
    expect(created.code).toBe(0);
    const json = JSON.parse(created.out);
    expect(json).toMatchObject({
      ok: true,
      exitCode: 0,
      data: {
        outcome: { status: "updated", master: `127.0.0.1:${primary.port}` },
        acceptedBy: [`127.0.0.1:${primary.port}`],
      },
    });
    expect(created.out).not.toContain(key.secret);
    const moved = await cli([
      "dns",
      "set",
      "api.example.org",
      "192.0.2.21",
      "--expect",
      "192.0.2.20",
      "--ttl",
      "30",
      "--config",
      cfg,
    ]);
    expect(moved).toMatchObject({ code: 0, err: "" });
    expect(moved.out).toMatch(/api\.example\.org: set to 192\.0\.2\.21, accepted by 127\.0\.0\.1:\d+/);
    expect(await digAnswer(primary.port, "api.example.org", "A")).toMatch(/\s30\s+IN\s+A\s+192\.0\.2\.21/);
  });

  it("a stale --expect changes nothing and exits 1 naming what the name holds", async () => {
    const cfg = configWith([primary.port], "stale.yaml");
    await cli(["--config", cfg, "dns", "set", "cas.example.org", "192.0.2.30"]);
    const r = await cli([
      "--config",
      cfg,
      "dns",
      "set",
      "cas.example.org",
      "192.0.2.31",
      "--expect",
      "192.0.2.99",
    ]);
    expect(r.code).toBe(ExitCode.invalid);
    expect(r.err).toMatch(
      /cas\.example\.org: not changed: it holds 192\.0\.2\.30, not the expected 192\.0\.2\.99 \(NXRRSET/,
    );
    expect(await dig(primary.port, "cas.example.org", "A")).toEqual(["192.0.2.30"]);
  });

  it("a name created by someone else is refused, exit 1, untouched", async () => {
    const cfg = configWith([primary.port], "legacy.yaml");
    const r = await cli(["--config", cfg, "dns", "set", "legacy.example.org", "192.0.2.1"]);
    expect(r.code).toBe(ExitCode.invalid);
    expect(r.err).toMatch(/without our ownership TXT/);
    expect(await dig(primary.port, "legacy.example.org", "A")).toEqual(["192.0.2.7"]);
  });

  it("bad arguments: one line naming the argument, exit 1, no packet sent", async () => {
    const cfg = configWith([silent.port], "bad.yaml");
    const cases: Array<[string[], RegExp]> = [
      [["x.example.org", "192.0.2.256"], /^ADDRESS: "192\.0\.2\.256" is not an IPv4 or IPv6 address\n$/],
      [["x.example.com", "192.0.2.1"], /^FQDN: "x\.example\.com" is not inside the zone example\.org\n$/],
      [["x.example.org", "192.0.2.1", "--ttl", "-5"], /^--ttl: "-5" is not a TTL/],
      [
        ["x.example.org", "192.0.2.1", "--expect", "nope"],
        /^--expect: "nope" is not an IPv4 or IPv6 address/,
      ],
      [["bad name.example.org", "192.0.2.1"], /^FQDN: .* is not a valid DNS name/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(["--config", cfg, "dns", "set", ...args]);
      expect(r.code, args.join(" ")).toBe(ExitCode.invalid);
      expect(r.err).toMatch(message);
    }
    expect(silent.received()).toBe(0);
  });

  it("an IPv4-mapped address (::ffff:a.b.c.d) is refused, never written as AAAA over the A record", async () => {
    const cfg = configWith([silent.port], "mapped.yaml");
    for (const args of [
      ["legacy.example.org", "::ffff:192.0.2.8"],
      ["legacy.example.org", "0:0:0:0:0:ffff:c000:208"],
      ["legacy.example.org", "192.0.2.8", "--expect", "::ffff:192.0.2.7"],
    ]) {
      const r = await cli(["--config", cfg, "dns", "set", ...args]);
      expect(r.code, args.join(" ")).toBe(ExitCode.invalid);
      expect(r.err).toMatch(
        /^(ADDRESS|--expect): ".*" is the IPv4 address 192\.0\.2\.[78] written as IPv6 \(IPv4-mapped\); give 192\.0\.2\.[78] for an A record\n$/,
      );
    }
    expect(silent.received()).toBe(0);
  });

  it("more addresses than one DNS message holds: one line naming ADDRESS, exit 1, no packet sent", async () => {
    const cfg = configWith([silent.port], "many.yaml");
    const many = Array.from({ length: 6000 }, (_, i) => `10.${i >> 8}.${i & 255}.1`);
    for (const expectArgs of [[], ["--expect", "none"]]) {
      const r = await cli(["--config", cfg, "dns", "set", "many.example.org", ...many, ...expectArgs]);
      expect(r.code).toBe(ExitCode.invalid);
      expect(r.err).toMatch(
        /^ADDRESS: 6000 addresses need a \d+-byte DNS message, over the 65535 bytes one message holds \(\d+ IPv4 addresses fit for many\.example\.org\)\n$/,
      );
    }
    expect(silent.received()).toBe(0);

    // The count the error gives is exact: that many reach the client, one more does not.
    const loaded = await loadConfig(cfg);
    const r = await dnsSet(loaded, { fqdn: "many.example.org", addresses: many }).catch(
      (e: Error) => e.message,
    );
    const fit = Number(/\((\d+) IPv4 addresses fit/.exec(String(r))?.[1]);
    const sent: string[][] = [];
    const fake = (() => ({
      setAddresses: async (changes: Array<{ name: string; a: string[] }>) => {
        sent.push(changes[0]?.a ?? []);
        const outcome = { name: "many.example.org", status: "updated", master: "fake", a: [], aaaa: [] };
        return { outcomes: [outcome], acceptedBy: ["fake"] };
      },
    })) as unknown as Parameters<typeof dnsSet>[2];
    await dnsSet(loaded, { fqdn: "many.example.org", addresses: many.slice(0, fit) }, fake);
    expect(sent.map((a) => a.length)).toEqual([fit]);
    await expect(
      dnsSet(loaded, { fqdn: "many.example.org", addresses: many.slice(0, fit + 1) }, fake),
    ).rejects.toThrow(/^ADDRESS: /);
    expect(sent).toHaveLength(1);
  });

  it("all masters down: exit 2, one line per master, the silent one named as maybe applied, nothing written (text and JSON)", async () => {
    const closed = await closedPort();
    const cfg = configWith([silent.port, closed], "down.yaml", { totalTimeoutMs: 1200 });
    const r = await cli(["--config", cfg, "dns", "set", "down.example.org", "192.0.2.1", "--expect", "none"]);
    expect(r.code).toBe(ExitCode.peer);
    const lines = r.err.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/may have been applied at 127\.0\.0\.1:\d+ \(sent, no trustworthy answer/);
    expect(lines[1]).toMatch(
      new RegExp(`^  127\\.0\\.0\\.1:${silent.port}: no answer within \\d+ ms \\(udp\\); read-back failed`),
    );
    expect(lines[2]).toBe(`  127.0.0.1:${closed}: connection refused (udp)`);
    const j = await cli([
      "--config",
      cfg,
      "dns",
      "set",
      "down.example.org",
      "192.0.2.1",
      "--expect",
      "none",
      "--json",
    ]);
    expect(j.code).toBe(ExitCode.peer);
    const envelope = JSON.parse(j.out);
    expect(envelope).toMatchObject({
      ok: false,
      exitCode: 2,
      data: {
        failures: [
          { master: `127.0.0.1:${silent.port}` },
          { master: `127.0.0.1:${closed}`, reason: "connection refused (udp)" },
        ],
      },
    });
    // One error line per master, as in the text.
    expect(envelope.errors.slice(1)).toEqual([
      expect.stringMatching(new RegExp(`^127\\.0\\.0\\.1:${silent.port}: no answer`)),
      `127.0.0.1:${closed}: connection refused (udp)`,
    ]);
    expect(await dig(primary.port, "down.example.org", "A")).toEqual([]);
  });

  it("dns show: every candidate side by side, a dead one as an error row (exit 2)", async () => {
    const closed = await closedPort();
    const cfg = configWith([primary.port, secondary.port, closed], "show.yaml");
    await dnsSet(await loadConfig(cfg), { fqdn: "shown.example.org", addresses: ["192.0.2.44"] });
    // The secondary follows by NOTIFY + IXFR; wait until it has the name (bounded).
    for (let i = 0; i < 50 && (await dig(secondary.port, "shown.example.org", "A")).length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = await dnsShow(await loadConfig(cfg), "shown.example.org");
    expect(r.exitCode).toBe(ExitCode.peer);
    expect(r.masters).toMatchObject([
      { master: `127.0.0.1:${primary.port}`, ok: true, a: ["192.0.2.44"], owned: true },
      { master: `127.0.0.1:${secondary.port}`, ok: true, a: ["192.0.2.44"], owned: true },
      { master: `127.0.0.1:${closed}`, ok: false, error: "connection refused (udp)" },
    ]);
    expect(r.masters[0]?.serial).toBe(r.masters[1]?.serial);
    const text = formatShow(r);
    expect(text).toMatch(/MASTER\s+SERIAL\s+A\s+AAAA\s+OWNED\s+TXT/);
    expect(text).toMatch(/ERROR: connection refused/);
    const j = await cli(["--config", cfg, "dns", "show", "shown.example.org", "--json"]);
    expect(JSON.parse(j.out).data.masters).toHaveLength(3);
  });

  it("dns delete removes an owned name and refuses someone else's", async () => {
    const cfg = configWith([primary.port], "delete.yaml");
    await dnsSet(await loadConfig(cfg), { fqdn: "del.example.org", addresses: ["192.0.2.50"] });
    expect(await dnsDelete(await loadConfig(cfg), "del.example.org")).toMatchObject({
      ok: true,
      result: { status: "deleted" },
    });
    expect(await dig(primary.port, "del.example.org", "A")).toEqual([]);
    const r = await cli(["--config", cfg, "dns", "delete", "legacy.example.org"]);
    expect(r.code).toBe(ExitCode.invalid);
    expect(await dig(primary.port, "legacy.example.org", "A")).toEqual(["192.0.2.7"]);
  });

  it("dns delete --dry-run on the command line says what it would delete and leaves the name", async () => {
    const cfg = configWith([primary.port], "delete-dry.yaml");
    await dnsSet(await loadConfig(cfg), { fqdn: "kept.example.org", addresses: ["192.0.2.51"] });
    const r = await cli(["--config", cfg, "dns", "delete", "kept.example.org", "--dry-run"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe(`kept.example.org: would be deleted at 127.0.0.1:${primary.port}; nothing sent\n`);
    expect(await dig(primary.port, "kept.example.org", "A")).toEqual(["192.0.2.51"]);
  });
});
