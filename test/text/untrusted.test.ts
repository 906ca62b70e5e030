import { describe, expect, it } from "vitest";
import { UNTRUSTED_MAX_CHARS, untrusted } from "../../lib/text/untrusted.ts";

// Guest text on its way to a log line, an error or a terminal.

describe("untrusted", () => {
  it("keeps plain text as it is", () => {
    expect(untrusted("app.tenants.example.org is not a subdomain (ü, 東京)")).toBe(
      "app.tenants.example.org is not a subdomain (ü, 東京)",
    );
  });

  it("writes a newline as a visible escape, so a Notes block cannot forge a second log line", () => {
    const forged = "x\npvemigrate-dns[pve1]: notes: all good\r\n";
    const line = untrusted(forged);
    expect(line).toBe("x\\npvemigrate-dns[pve1]: notes: all good\\r\\n");
    expect(line.split("\n")).toHaveLength(1);
  });

  it("escapes terminal escape sequences, other control characters and invisible format characters", () => {
    expect(untrusted("\x1b[2J\x07\t\x00\x7f\x9b")).toBe("\\x1b[2J\\x07\\t\\x00\\x7f\\x9b");
    // Bidi override, zero-width space, line separator, BOM, a lone surrogate.
    expect(untrusted("a\u202eb\u200bc\u2028d\ufeffe\ud800")).toBe(
      "a\\u{202e}b\\u{200b}c\\u{2028}d\\u{feff}e\\u{d800}",
    );
  });

  it("escapes a backslash, so an escape in the output always means an escaped character", () => {
    expect(untrusted("a\\nb")).toBe("a\\\\nb");
  });

  it("bounds the length, saying how much was cut", () => {
    const out = untrusted("y".repeat(10_000));
    expect(out).toBe(
      `${"y".repeat(UNTRUSTED_MAX_CHARS)}...(${10_000 - UNTRUSTED_MAX_CHARS} more characters)`,
    );
    expect(untrusted("\n".repeat(10), 5)).toBe("\\n\\n...(8 more characters)");
  });
});
