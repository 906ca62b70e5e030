import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dnsDelete, dnsSet, dnsShow } from "../../bin/commands/dns.ts";
import { formatDelete, formatSet, formatShow } from "../../bin/commands/dns-format.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { checkDns } from "../../lib/doctor/check-dns.ts";
import { ExitCode } from "../../lib/errors.ts";
import {
  type DnsDaemon,
  dig,
  generateTsigKey,
  startNamedPrimary,
  type TsigKeyFixture,
} from "../support/named.ts";
import { writeNamedConfig, writeNamedSecrets } from "../support/named-config.ts";
import { missing } from "../support/requirements.ts";

// `dns set` / `dns delete` --dry-run, the --expect none message, the warning
// for a name a VM manages, and `dns show` reporting masters that disagree
// (two primaries of the same zone that do not replicate: a write lands on one
// side only), as doctor does. Real named, the real config loader.

describe.skipIf(missing({ bins: ["named", "tsig-keygen", "dig"] }))(
  "dns CLI: dry runs, messages, divergence",
  () => {
    let dir: string;
    let key: TsigKeyFixture;
    let primary: DnsDaemon;
    let other: DnsDaemon;

    async function config(ports: number[], vms: Record<string, unknown> = {}): Promise<string> {
      return writeNamedConfig(join(dir, `c${ports.join("-")}-${Object.keys(vms).join("-")}.yaml`), key, {
        ports,
        dns: { ownerId: "cli-test", propagation: { allow: ["127.0.0.0/8"] } },
        vms,
      });
    }

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), `pvemigrate-dns-cli-opts-${process.pid}-`));
      key = await generateTsigKey("cli-key");
      writeNamedSecrets(dir, key);
      primary = await startNamedPrimary({ zone: "example.org", keys: [key] });
      other = await startNamedPrimary({ zone: "example.org", keys: [key] });
    });
    afterAll(async () => {
      await Promise.allSettled([primary?.stop(), other?.stop()]);
      await rm(dir, { recursive: true, force: true });
    });

    it("dns set --dry-run says what it would write and against what, and sends nothing", async () => {
      const loaded = await loadConfig(await config([primary.port]));
      await dnsSet(loaded, { fqdn: "dry.example.org", addresses: ["192.0.2.20"] });
      const r = await dnsSet(loaded, { fqdn: "dry.example.org", addresses: ["192.0.2.21"], dryRun: true });
      expect(r).toMatchObject({ ok: true, dryRun: true, outcome: { status: "updated" }, acceptedBy: [] });
      expect(formatSet(r)).toBe(
        `dry.example.org: would set 192.0.2.21 (it holds 192.0.2.20 at 127.0.0.1:${primary.port}; compare-and-swap against that); nothing sent`,
      );
      const wrong = await dnsSet(loaded, {
        fqdn: "dry.example.org",
        addresses: ["192.0.2.21"],
        expect: ["192.0.2.99"],
        dryRun: true,
      });
      expect(wrong.exitCode).toBe(ExitCode.invalid);
      expect(formatSet(wrong)).toMatch(
        /^dry\.example\.org: would not change it: it holds 192\.0\.2\.20, not the expected 192\.0\.2\.99/,
      );
      expect(await dig(primary.port, "dry.example.org", "A")).toEqual(["192.0.2.20"]);
    });

    it("--expect none on a name that exists reads as what it means", async () => {
      const loaded = await loadConfig(await config([primary.port]));
      await dnsSet(loaded, { fqdn: "taken.example.org", addresses: ["192.0.2.30"] });
      const r = await dnsSet(loaded, {
        fqdn: "taken.example.org",
        addresses: ["192.0.2.31"],
        expect: ["none"],
      });
      expect(r.exitCode).toBe(ExitCode.invalid);
      expect(formatSet(r)).toBe(
        `taken.example.org: not changed: --expect none means "only if it does not exist yet", and it exists with 192.0.2.30 (NXRRSET at 127.0.0.1:${primary.port})`,
      );
    });

    it("setting or deleting a name a VM manages warns that the next reconcile puts it back", async () => {
      const loaded = await loadConfig(
        await config([primary.port], { 101: { ip: "10.10.1.101", dns: ["managed.example.org"] } }),
      );
      const r = await dnsSet(loaded, { fqdn: "managed.example.org", addresses: ["192.0.2.40"] });
      expect(r.outcome.status).toBe("updated");
      expect(formatSet(r).split("\n")[1]).toBe(
        "warning: VM 101 manages managed.example.org (vms.101.dns): the next reconcile will put it back",
      );
      const d = await dnsDelete(loaded, "managed.example.org", undefined, { dryRun: true });
      expect(formatDelete(d)).toBe(
        [
          `managed.example.org: would be deleted at 127.0.0.1:${primary.port}; nothing sent`,
          "warning: VM 101 manages managed.example.org (vms.101.dns): the next reconcile will write it again",
        ].join("\n"),
      );
      expect(await dig(primary.port, "managed.example.org", "A")).toEqual(["192.0.2.40"]);
    });

    it("dns show reports masters that disagree on the serial and the answer", async () => {
      const loaded = await loadConfig(await config([primary.port, other.port]));
      // Written at the first candidate only: the other primary never hears of it.
      await dnsSet(loaded, { fqdn: "oneside.example.org", addresses: ["192.0.2.50"], expect: ["none"] });
      const r = await dnsShow(loaded, "oneside.example.org");
      expect(r.divergence).toEqual([
        expect.stringMatching(
          new RegExp(
            `^masters disagree on the zone serial: \\d+ at 127\\.0\\.0\\.1:${primary.port}, 1 at 127\\.0\\.0\\.1:${other.port}$`,
          ),
        ),
        `masters answer differently: 192.0.2.50 at 127.0.0.1:${primary.port}, (nothing) at 127.0.0.1:${other.port}`,
      ]);
      expect(formatShow(r)).toMatch(/\nwarning: masters answer differently: /);
      // doctor says it too, with what to check.
      const findings = await checkDns(loaded.config.dns, loaded.secrets.tsig);
      expect(findings.filter((f) => f.status !== "ok")).toEqual([
        expect.objectContaining({
          check: "dns",
          status: "warn",
          message: expect.stringMatching(/^masters disagree on the zone serial: \d+ at .*, 1 at /),
        }),
      ]);
    });
  },
);
