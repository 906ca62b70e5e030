import type { Config } from "../config/types.ts";
import {
  formatSeconds,
  MAX_MOVE_WAIT_SECONDS,
  moveEndsAt,
  moveGraceSeconds,
  type PlannedMove,
  propagationAllowanceSeconds,
  waitBeforeMoveSeconds,
} from "../desired/ttl.ts";
import { messageOf, PeerError } from "../errors.ts";
import { syncDns, syncDnsStrict } from "./dns-sync.ts";
import type { Runtime } from "./runtime.ts";

// The TTL choreography around `migrate` (the decisions are pure, in
// lib/desired/ttl.ts): read how long resolvers may cache the VM's names,
// record the planned move and write the names with dns.moveTtl, wait out the
// old TTL, and after the migration leave the restore to the desired state:
// every DNS sync computes dns.ttl again once the move's grace is over.

export interface TtlPlan {
  /** The VM's names: their TTL is lowered for the move. */
  names: string[];
  /** The largest TTL they are served with now, at the master; unset when none resolves yet. */
  oldTtl?: number;
  moveTtl: number;
  /** dns.ttl: what the names get back after the grace period. */
  restoreTtl: number;
  /** Seconds to wait after lowering, before migrating (0: nothing cached longer than moveTtl). */
  waitSeconds: number;
  /** How long the old node grace-forwards after this move. */
  graceSeconds: number;
}

/** Reads the names' TTL at the master; undefined for a VM without names (nothing to choreograph). */
export async function planTtl(rt: Runtime, names: readonly string[]): Promise<TtlPlan | undefined> {
  if (names.length === 0) return undefined;
  const ttls: number[] = [];
  for (const name of names) {
    const r = await rt.dns.query(name);
    if (r.ttl !== undefined) ttls.push(r.ttl);
  }
  const oldTtl = ttls.length ? Math.max(...ttls) : undefined;
  const { dns } = rt.config;
  return {
    names: [...names],
    ...(oldTtl === undefined ? {} : { oldTtl }),
    moveTtl: dns.moveTtl,
    restoreTtl: dns.ttl,
    waitSeconds: waitBeforeMoveSeconds(rt.config, oldTtl),
    graceSeconds: moveGraceSeconds(rt.config, oldTtl ?? dns.moveTtl),
  };
}

/** Why `migrate` will not start without --no-wait (the wait is too long), or undefined. */
export function waitRefusal(t: TtlPlan | undefined, noWait: boolean): string | undefined {
  if (!t || noWait || t.waitSeconds <= MAX_MOVE_WAIT_SECONDS) return undefined;
  return `--no-wait: the names are served with a TTL of ${t.oldTtl} s; waiting it out would take ${formatSeconds(t.waitSeconds)} (more than ${formatSeconds(MAX_MOVE_WAIT_SECONDS)}): pass --no-wait to migrate now (the old node forwards for ${t.graceSeconds} s)`;
}

/** PURE: the choreography as `migrate --dry-run` prints it. */
export function ttlSteps(
  config: Config,
  move: { from: string; to: string },
  t: TtlPlan,
  noWait: boolean,
): string[] {
  const was = t.oldTtl === undefined ? "none resolves yet" : `served now with ${t.oldTtl} s`;
  const oldTtl = t.oldTtl ?? t.moveTtl;
  const propagation = `dns.propagation.waitSeconds ${propagationAllowanceSeconds(config)} s`;
  const wait =
    t.waitSeconds === 0
      ? `no wait: no resolver holds them longer than ${t.moveTtl} s`
      : noWait
        ? `no wait (--no-wait): resolvers may keep the old address up to ${t.oldTtl} s after the move`
        : t.waitSeconds > MAX_MOVE_WAIT_SECONDS
          ? `waiting would take ${formatSeconds(t.waitSeconds)} (old TTL ${t.oldTtl} s + ${propagation}): run with --no-wait`
          : `wait ${t.waitSeconds} s (old TTL ${t.oldTtl} s + ${propagation}) so no resolver still holds the old TTL`;
  return [
    `lower the TTL of ${t.names.join(", ")} to ${t.moveTtl} s (${was})`,
    wait,
    `migrate ${move.from} -> ${move.to}`,
    `${move.from} grace-forwards for ${t.graceSeconds} s (graceSeconds ${config.graceSeconds}, at least old TTL ${oldTtl} s + ${propagation})`,
    `then the TTL goes back to ${t.restoreTtl} s (the next DNS sync or reconcile after the grace period)`,
  ];
}

/** Records the planned move and writes the names with the lowered TTL; PeerError (nothing moved) when it cannot. */
export async function lowerTtl(
  rt: Runtime,
  vm: { vmid: number; from: string; to: string },
  t: TtlPlan,
): Promise<PlannedMove> {
  const now = rt.now();
  const move: PlannedMove = {
    vmid: vm.vmid,
    from: vm.from,
    to: vm.to,
    oldTtl: t.oldTtl ?? t.moveTtl,
    moveTtl: t.moveTtl,
    loweredAt: now,
    // Should this process die before the VM leaves, the TTL still goes back.
    expiresAt: now + (t.waitSeconds + rt.config.migrationWatchSeconds) * 1000,
  };
  await rt.moves.add(move);
  try {
    await syncDnsStrict(rt, [vm.vmid]);
  } catch (err) {
    await endMove(rt, move).catch(() => {});
    throw new PeerError(
      `the TTL of ${t.names.join(", ")} could not be lowered (${messageOf(err)}); not migrating`,
    );
  }
  return move;
}

/** The move did not happen: forget it and write the names back with dns.ttl (reconcile retries a failure). */
export async function endMove(rt: Runtime, move: PlannedMove): Promise<void> {
  await rt.moves.remove(move);
  await syncDns(rt, [move.vmid], { live: [move.vmid] });
}

/** When the lowered TTL of `move` goes back, as the recorded departures say now (epoch ms). */
export async function restoreAt(rt: Runtime, move: PlannedMove): Promise<number> {
  const [departures, moves] = await Promise.all([rt.departures.list(), rt.moves.list()]);
  return moveEndsAt(rt.config, move, departures, moves);
}
