import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PlannedMove } from "../../lib/desired/ttl.ts";
import { DepartureStore } from "../../lib/state/departures.ts";
import { MoveStore } from "../../lib/state/moves.ts";

// The per-VM record files in pmxcfs (departures, planned moves): what is read
// back is parsed, so a record another version or a crash left malformed is
// skipped; a departure keeps the IPv6 the old node forwarded to.

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pvemigrate-records-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("departure records", () => {
  it("keep the IPv6 and skip malformed entries (an IPv6 that is no address, a vmid that is no number)", async () => {
    writeFileSync(
      join(dir, "103.json"),
      JSON.stringify([
        { vmid: 103, node: "pve1", ip: "10.10.1.103", ip6: "fd10:10::103", leftAt: 5 },
        { vmid: 103, node: "pve2", ip: "10.10.1.103", ip6: "rm -rf /", leftAt: 6 },
        { vmid: "103", node: "pve3", ip: "10.10.1.103", leftAt: 7 },
      ]),
    );
    const warnings: string[] = [];
    const store = new DepartureStore(dir, (m) => warnings.push(m));
    expect(await store.list()).toEqual([
      { vmid: 103, node: "pve1", ip: "10.10.1.103", ip6: "fd10:10::103", leftAt: 5 },
    ]);
    await store.add({ vmid: 103, node: "pve1", ip: "10.10.1.103", leftAt: 9 });
    expect(JSON.parse(readFileSync(join(dir, "103.json"), "utf8"))).toEqual([
      { vmid: 103, node: "pve1", ip: "10.10.1.103", leftAt: 9 },
    ]);
    expect(warnings).toEqual([]);
  });

  it("a propagation check's result is kept on the departure: lagging, then the first agreement, never a later one", async () => {
    const store = new DepartureStore(dir);
    await store.add({ vmid: 104, node: "pve1", ip: "10.10.1.104", leftAt: 10 });
    await store.add({ vmid: 104, node: "pve2", ip: "10.10.1.104", leftAt: 12 });
    expect(await store.markPropagation(104, "pve1", { agreed: false, at: 20 })).toBe(true);
    expect(await store.markPropagation(104, "pve1", { agreed: true, at: 30 })).toBe(true);
    expect(await store.markPropagation(104, "pve1", { agreed: true, at: 40 })).toBe(true);
    expect(await store.markPropagation(104, "pve1", { agreed: false, at: 50 })).toBe(true);
    expect(await store.markPropagation(104, "pve3", { agreed: true, at: 30 })).toBe(false);
    expect(await store.list()).toEqual([
      { vmid: 104, node: "pve1", ip: "10.10.1.104", leftAt: 10, laggingAt: 20, agreedAt: 30 },
      { vmid: 104, node: "pve2", ip: "10.10.1.104", leftAt: 12 },
    ]);
  });
});

describe("planned-move records", () => {
  const move = (from: string, loweredAt: number): PlannedMove => ({
    vmid: 101,
    from,
    to: "pve3",
    oldTtl: 60,
    moveTtl: 30,
    loweredAt,
    expiresAt: loweredAt + 1000,
  });

  it("add replaces the same VM's move from the same node; remove and prune drop only theirs", async () => {
    const store = new MoveStore(dir);
    await store.add(move("pve1", 1));
    await store.add(move("pve2", 2));
    await store.add(move("pve1", 3));
    expect((await store.list()).map((m) => [m.from, m.loweredAt])).toEqual([
      ["pve2", 2],
      ["pve1", 3],
    ]);
    await store.remove(move("pve1", 1)); // an older one: nothing to drop
    expect(await store.list()).toHaveLength(2);
    await store.prune((m) => m.from === "pve2");
    expect(await store.list()).toEqual([move("pve1", 3)]);
    await store.remove(move("pve1", 3));
    expect(await store.list()).toEqual([]);
  });

  it("skips a record whose TTL is not a TTL", async () => {
    writeFileSync(
      join(dir, "101.json"),
      JSON.stringify([{ ...move("pve1", 1), moveTtl: -1 }, move("pve2", 2)]),
    );
    expect(await new MoveStore(dir).list()).toEqual([move("pve2", 2)]);
  });
});
