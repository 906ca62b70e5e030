import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { preflight, runMigration } from "../../lib/orchestrate/migrate.ts";
import { reconcile } from "../../lib/orchestrate/reconcile.ts";
import { dig, ttlsAt } from "../support/named.ts";
import { missing } from "../support/requirements.ts";
import { type Harness, startHarness } from "./harness.ts";

// The TTL choreography of a planned `migrate`, against real BIND through the
// simulated cluster: the names' TTL at the master is lowered before the
// migrate POST is sent, stays low through the old node's grace period (at
// least the old TTL plus propagation, longer than graceSeconds here), and is
// restored by reconcile once that is over. No real waiting: the wait is
// handed to the test, and later runs get a clock past the grace period.

const NAME = "mail.example.org";
const ttl = { normal: 40, move: 5, propagation: 10, grace: 20 };
// Old TTL 40 s + propagation 10 s: longer than graceSeconds (20 s).
const GRACE_MS = (ttl.normal + ttl.propagation) * 1000;

/** The TTL of the name's A records, as the master serves them (dig, not our client). */
const ttlAt = (port: number, name: string) => ttlsAt(port, name, "A");

describe.skipIf(missing({ bins: ["named", "dig", "tsig-keygen"] }))(
  "TTL choreography of a planned migrate",
  () => {
    let h: Harness;
    const migratePosts = () =>
      h.sim.requests.filter((r) => r.method === "POST" && r.path.endsWith("/migrate"));
    beforeAll(async () => {
      h = await startHarness({
        secondary: false,
        config: (doc) => {
          const dns = doc.dns as Record<string, unknown>;
          dns.ttl = ttl.normal;
          dns.moveTtl = ttl.move;
          dns.propagation = { waitSeconds: ttl.propagation };
          doc.graceSeconds = ttl.grace;
        },
      });
      await reconcile(h.runtime("pve1"));
    }, 60_000);
    afterAll(async () => h?.stop());

    it("migrate --dry-run prints the steps and changes nothing", async () => {
      const r = await h.cli("pve2", ["migrate", "101", "pve2", "--dry-run"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`lower the TTL of ${NAME} to 5 s (served now with 40 s)`);
      expect(r.stdout).toContain("wait 50 s (old TTL 40 s + dns.propagation.waitSeconds 10 s)");
      expect(r.stdout).toContain("pve1 grace-forwards for 50 s (graceSeconds 20, at least old TTL 40 s");
      expect(r.stdout).toContain("then the TTL goes back to 40 s");
      expect(migratePosts()).toEqual([]);
      expect(await ttlAt(h.primary.port, NAME)).toEqual([40]);
      expect(await h.runtime("pve2").moves.list()).toEqual([]);
    });

    it("a failed or refused migration gives the names their TTL back at once", async () => {
      const rt = h.runtime("pve2");
      const attempt = async () => {
        let lowered: number[] = [];
        const sleep = async () => {
          lowered = await ttlAt(h.primary.port, NAME);
        };
        const err = await runMigration(rt, await preflight(rt, 101, "pve2"), () => {}, { sleep }).catch(
          (e: unknown) => e,
        );
        return {
          lowered,
          err: String(err),
          after: await ttlAt(h.primary.port, NAME),
          moves: await rt.moves.list(),
        };
      };
      h.sim.failNextMigration("storage migration failed: no space left");
      expect(await attempt()).toEqual({
        lowered: [5],
        err: expect.stringMatching(/no space left; nothing changed/),
        after: [40],
        moves: [],
      });
      h.sim.injectFault({ method: "POST", path: /\/migrate$/, status: 500, reason: "no such storage" });
      expect(await attempt()).toEqual({
        lowered: [5],
        err: expect.stringMatching(/no such storage/),
        after: [40],
        moves: [],
      });
    });

    it("lowers the TTL before the migrate POST, keeps it through the grace period, restores it after", async () => {
      const rt = h.runtime("pve2");
      const plan = await preflight(rt, 101, "pve2");
      expect(plan.ttl).toMatchObject({ oldTtl: 40, moveTtl: 5, waitSeconds: 50, graceSeconds: 50 });
      const progress: string[] = [];
      let duringWait: { ms: number; ttl: number[]; requests: number; posts: number } | undefined;
      const postsBefore = migratePosts().length;
      const summary = await runMigration(rt, plan, (line) => progress.push(line), {
        // The wait is the last thing before the migration: what the master serves then is what clients get.
        sleep: async (ms) => {
          const requests = h.sim.requests.length;
          duringWait = { ms, ttl: await ttlAt(h.primary.port, NAME), requests, posts: migratePosts().length };
        },
      });
      expect(duringWait).toMatchObject({ ms: 50_000, ttl: [5], posts: postsBefore });
      // The one POST came after the wait, in the sim's request order.
      const postsAt = h.sim.requests.flatMap((r, i) =>
        r.method === "POST" && r.path.endsWith("/migrate") ? [i] : [],
      );
      expect(postsAt.at(-1)).toBeGreaterThanOrEqual(duringWait!.requests);
      expect(migratePosts()).toHaveLength(postsBefore + 1);
      expect(progress.slice(0, 2)).toEqual([
        `TTL of ${NAME} lowered to 5 s (was 40 s)`,
        "waiting 50 s for resolvers to drop the old TTL (40 s + 10 s propagation)",
      ]);
      expect(progress[2]).toMatch(/^submitted /);

      // Moved, and still served with the lowered TTL.
      expect(await dig(h.primary.port, NAME, "A")).toEqual(["203.0.113.20"]);
      expect(await ttlAt(h.primary.port, NAME)).toEqual([5]);
      const left = (await rt.departures.list()).find((d) => d.vmid === 101 && d.node === "pve1");
      if (!left) throw new Error("no departure from pve1 recorded");
      expect(summary.ttlMove?.restoreAt).toBe(new Date(left.leftAt + GRACE_MS).toISOString());

      // The timer on pve2 within the grace period: the TTL stays low.
      const within = await reconcile(h.runtime("pve2", () => left.leftAt + GRACE_MS - 1000));
      expect(within.errors).toEqual([]);
      expect(await ttlAt(h.primary.port, NAME)).toEqual([5]);
      // What survives a crash: the planned move in pmxcfs, nothing more than the choreography needs.
      const file = join(h.dir, "pve", "pvemigrate-dns", "moves", "101.json");
      expect(JSON.parse(readFileSync(file, "utf8"))).toEqual([
        {
          vmid: 101,
          from: "pve1",
          to: "pve2",
          oldTtl: 40,
          moveTtl: 5,
          loweredAt: expect.any(Number),
          expiresAt: expect.any(Number),
        },
      ]);

      // Past it (later than graceSeconds alone would end it): dns.ttl again, same address, move forgotten.
      const after = await reconcile(h.runtime("pve2", () => left.leftAt + GRACE_MS + 1000));
      expect(after.errors).toEqual([]);
      expect(await ttlAt(h.primary.port, NAME)).toEqual([40]);
      expect(await dig(h.primary.port, NAME, "A")).toEqual(["203.0.113.20"]);
      expect(await rt.moves.list()).toEqual([]);
    });
  },
);
