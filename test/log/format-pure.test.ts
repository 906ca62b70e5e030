import { describe, expect, it } from "vitest";
import { formatLines, stderrIsJournal } from "../../lib/log/format.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { untrusted } from "../../lib/text/untrusted.ts";

const AT = Date.UTC(2026, 4, 1, 10, 0, 0, 123);
const stream = { target: "stream" as const, tag: "pvemigrate-dns[pve1]", now: AT };
const journal = { target: "journal" as const, tag: "pvemigrate-dns[pve1]", now: AT };

describe("log lines (lib/log/format.ts)", () => {
  it("a stream line starts with an ISO timestamp, the tag and the level in words (none for info)", () => {
    expect(formatLines("info", "VM 101 switched", stream)).toBe(
      "2026-05-01T10:00:00.123Z pvemigrate-dns[pve1]: VM 101 switched\n",
    );
    expect(formatLines("warning", "x", stream)).toBe(
      "2026-05-01T10:00:00.123Z pvemigrate-dns[pve1]: warning: x\n",
    );
    expect(formatLines("error", "x", stream)).toBe(
      "2026-05-01T10:00:00.123Z pvemigrate-dns[pve1]: error: x\n",
    );
  });

  it("a journal line is the sd-daemon priority prefix and the message, no timestamp: <3> error .. <7> debug", () => {
    expect(formatLines("error", "all masters failed", journal)).toBe("<3>all masters failed\n");
    expect(formatLines("warning", "w", journal)).toBe("<4>w\n");
    expect(formatLines("notice", "n", journal)).toBe("<5>n\n");
    expect(formatLines("info", "i", journal)).toBe("<6>i\n");
    expect(formatLines("debug", "d", journal)).toBe("<7>d\n");
  });

  it("every line of a multi-line message gets its own prefix, so none reaches the reader bare", () => {
    expect(formatLines("error", "dns: all failed\n  10.0.0.1: timeout\n", journal)).toBe(
      "<3>dns: all failed\n<3>  10.0.0.1: timeout\n",
    );
    const lines = formatLines("warning", "a\r\nb", stream).split("\n").filter(Boolean);
    expect(lines).toHaveLength(2);
    for (const l of lines)
      expect(l).toMatch(/^2026-05-01T10:00:00\.123Z pvemigrate-dns\[pve1\]: warning: [ab]$/);
  });

  it("control characters are shown as escapes; guest text escaped by lib/text is not escaped twice", () => {
    expect(formatLines("info", "a\x1b[2Jb\u202ec\td", journal)).toBe("<6>a\\x1b[2Jb\\u{202e}c\td\n");
    const guest = untrusted("x\n<3>forged");
    expect(formatLines("warning", `notes: ${guest}`, journal)).toBe("<4>notes: x\\n<3>forged\n");
  });
});

describe("is stderr the journal (JOURNAL_STREAM against fstat of fd 2)", () => {
  it("only when JOURNAL_STREAM names fd 2's device and inode", () => {
    expect(stderrIsJournal("64768:123456", { dev: 64768, ino: 123456 })).toBe(true);
    expect(stderrIsJournal("64768:123456", { dev: 64768n, ino: 123456n })).toBe(true);
    // Inherited from a service, but fd 2 is now a pipe a parent put in between (a hook under pvedaemon).
    expect(stderrIsJournal("64768:123456", { dev: 64768, ino: 999 })).toBe(false);
    expect(stderrIsJournal("64768:123456", { dev: 1, ino: 123456 })).toBe(false);
    expect(stderrIsJournal(undefined, { dev: 64768, ino: 123456 })).toBe(false);
    expect(stderrIsJournal("", { dev: 0, ino: 0 })).toBe(false);
    expect(stderrIsJournal("64768:123456x", { dev: 64768, ino: 123456 })).toBe(false);
    expect(stderrIsJournal("64768:123456", undefined)).toBe(false);
  });

  it("inode numbers above 2^53 compare exactly", () => {
    const ino = 2n ** 60n + 1n;
    expect(stderrIsJournal(`5:${ino}`, { dev: 5n, ino })).toBe(true);
    expect(stderrIsJournal(`5:${ino}`, { dev: 5n, ino: ino - 1n })).toBe(false);
  });
});

describe("createLogger", () => {
  it("writes debug lines only with PVEMIGRATE_DNS_DEBUG=1", () => {
    const out: string[] = [];
    const opts = { write: (t: string) => out.push(t), now: () => AT, target: "journal" as const };
    createLogger({ ...opts, env: {} })("hidden", "debug");
    createLogger({ ...opts, env: { PVEMIGRATE_DNS_DEBUG: "1" } })("shown", "debug");
    createLogger({ ...opts, env: {} })("plain");
    expect(out).toEqual(["<7>shown\n", "<6>plain\n"]);
  });
});
