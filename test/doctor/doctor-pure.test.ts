import { describe, expect, it } from "vitest";
import { DnsAllMastersFailed, DnsRejected } from "../../lib/dns/errors.ts";
import { dnsHint } from "../../lib/doctor/check-dns.ts";
import { stalePending } from "../../lib/doctor/check-journal.ts";
import { startsWithFlushRuleset } from "../../lib/doctor/nftables-service.ts";
import { buildReport, exitCodeFor, formatFinding, formatReport } from "../../lib/doctor/report.ts";
import { fail, ok, warn } from "../../lib/doctor/types.ts";
import type { JournalItem } from "../../lib/state/index.ts";

describe("startsWithFlushRuleset", () => {
  it("finds Debian's default file (shebang, blank line, then flush ruleset)", () => {
    expect(startsWithFlushRuleset("#!/usr/sbin/nft -f\n\nflush ruleset\n\ntable inet filter {\n}\n")).toBe(
      true,
    );
    expect(startsWithFlushRuleset("  flush   ruleset ;  # all of it\n")).toBe(true);
  });
  it("ignores a flush later in the file, a commented one, or a per-table flush", () => {
    expect(startsWithFlushRuleset("table inet filter {\n}\nflush ruleset\n")).toBe(false);
    expect(startsWithFlushRuleset("# flush ruleset\ntable inet filter {}\n")).toBe(false);
    expect(startsWithFlushRuleset("flush table inet filter\n")).toBe(false);
    expect(startsWithFlushRuleset("")).toBe(false);
  });
});

describe("report", () => {
  it("exit code: 0 with warnings only, 2 for a peer failure, 1 when the config or node failed", () => {
    expect(exitCodeFor([ok("dns", "a"), warn("journal", "b", "h")])).toBe(0);
    expect(exitCodeFor([fail("dns", "a", "h"), warn("journal", "b", "h")])).toBe(2);
    expect(exitCodeFor([fail("dns", "a", "h"), fail("node", "b", "h")])).toBe(1);
    expect(exitCodeFor([fail("config", "a", "h")])).toBe(1);
  });
  it("one line per finding, even when a message carries newlines", () => {
    const line = formatFinding(fail("dns", "master 127.0.0.1:53: x\n  y", "start it"));
    expect(line).toBe("FAIL dns: master 127.0.0.1:53: x | y -> start it");
    const r = buildReport([ok("config", "fine"), warn("nft", "no table", "reconcile")], "pve1");
    expect(r.summary).toEqual({ ok: 1, warn: 1, fail: 0 });
    expect(formatReport(r)).toEqual([
      "ok   config: fine",
      "WARN nft: no table -> reconcile",
      "pve1: 1 ok, 1 warning(s), 0 failure(s)",
    ]);
  });
});

describe("stalePending", () => {
  const item = (id: string, createdAt: string): JournalItem => ({
    id,
    kind: "k",
    rev: "r",
    createdAt,
    updatedAt: createdAt,
    attempts: 0,
    payload: {},
  });
  it("keeps items pending for more than 10 minutes", () => {
    const now = Date.parse("2025-01-01T12:00:00Z");
    const items = [item("old", "2025-01-01T11:49:59Z"), item("new", "2025-01-01T11:51:00Z")];
    expect(stalePending(items, now).map((i) => i.id)).toEqual(["old"]);
  });
});

describe("dnsHint", () => {
  const dns = {
    zone: "example.org",
    tsig: { name: "k", algorithm: "hmac-sha256" as const, secretFile: "/etc/pve/priv/k.tsig" },
  };
  const down = (reason: string) => new DnsAllMastersFailed("read SOA", [{ master: "m:53", reason }]);
  it("tells timeout, refused, key and zone problems apart", () => {
    expect(dnsHint(down("no answer within 700 ms (udp)"), dns)).toMatch(/^timeout/);
    expect(dnsHint(down("connection refused (udp)"), dns)).toMatch(/nothing listens/);
    expect(dnsHint(down("SERVFAIL (server failure)"), dns)).toMatch(/SERVFAIL/);
    const rejected = (rcode: string, detail: string) => new DnsRejected("read SOA", "m:53", rcode, detail);
    expect(dnsHint(rejected("NOTAUTH", "TSIG BADKEY: the server does not know key"), dns)).toMatch(
      /does not know key "k"/,
    );
    expect(dnsHint(rejected("NOTAUTH", "TSIG BADSIG: ..."), dns)).toContain("/etc/pve/priv/k.tsig");
    expect(dnsHint(rejected("NOTAUTH", "TSIG BADTIME: clocks differ"), dns)).toMatch(/clocks/);
    expect(dnsHint(rejected("NOTAUTH", "not authoritative"), dns)).toMatch(
      /not authoritative for example\.org/,
    );
    expect(dnsHint(rejected("REFUSED", "refuses"), dns)).toMatch(/allow-query/);
  });
});
