import { describe, expect, it } from "vitest";
import { assertSafe, MIN_EXISTING_FOR_SAFETY, riskyCount, UnsafePlan } from "../../lib/plan/safety.ts";
import type { Change } from "../../lib/plan/types.ts";

// The threshold is pure: counts of changes against counts of managed items.

const removeForward = (port: number): Change => ({
  op: "remove",
  backend: "nat",
  node: "pve1",
  key: `tcp/${port}`,
  before: "10.10.1.101:22",
});
const limit = { maxChangePercent: 30 };

describe("assertSafe", () => {
  it.each([
    { what: "3 of 10 removed (30 %)", risky: 3, existing: 10, refused: false },
    { what: "4 of 10 removed (40 %)", risky: 4, existing: 10, refused: true },
    { what: "9 of 9 removed: too few to judge", risky: 9, existing: 9, refused: false },
    { what: "20 of 20 removed", risky: 20, existing: 20, refused: true },
  ])("$what: refused=$refused", ({ risky, existing, refused }) => {
    const changes = Array.from({ length: risky }, (_, i) => removeForward(2000 + i));
    const check = () => assertSafe(changes, existing, limit);
    if (refused) expect(check).toThrow(UnsafePlan);
    else expect(check).not.toThrow();
  });

  it("names the node, the share and --force, with exit code 1", () => {
    const changes = Array.from({ length: 12 }, (_, i) => removeForward(2000 + i));
    let err: unknown;
    try {
      assertSafe(changes, 12, limit);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnsafePlan);
    expect((err as UnsafePlan).message).toMatch(/^node pve1: .*12 of 12 .*100%.*--force/);
    expect((err as UnsafePlan).exitCode).toBe(1);
  });

  it("counts rewrites and removals of managed items, never additions or table housekeeping", () => {
    const changes: Change[] = [
      { op: "add", backend: "nat", key: "tcp/2222", after: "10.10.1.101:22" },
      { op: "update", backend: "nat", key: "tcp/2223", before: "10.10.1.101:22", after: "10.10.1.102:22" },
      { op: "update", backend: "nat", key: "table ip pvemigrate layout", before: '"a"', after: '"b"' },
      { op: "remove", backend: "nat", key: "ip from_2 10.10.1.99" },
      { op: "remove", backend: "proxy", key: "sni mail.example.org", before: "10.10.1.101:443" },
      { op: "update", backend: "proxy", key: "write /m/sni.map" },
      { op: "remove", backend: "dns", key: "mail.example.org" },
    ];
    expect(riskyCount(changes)).toBe(3);
    expect(MIN_EXISTING_FOR_SAFETY).toBe(10);
  });
});
