import type { Config } from "../config/types.ts";

// PURE: the TTL choreography of a planned move (`migrate`) as desired state.
// Before migrating, the VM's names are served with dns.moveTtl, so resolvers
// follow the move quickly; the old node grace-forwards for at least the old
// TTL plus the propagation allowance (a resolver may have cached the old
// address just before the TTL was lowered); once that grace is over the
// names go back to dns.ttl. Nothing here keeps a timer: every run computes
// the TTL from the recorded move, its departure and `now`, so a crash at any
// point leaves a state the next reconcile finishes.

/** A planned move whose names were (or are about to be) served with a lowered TTL. */
export interface PlannedMove {
  vmid: number;
  /** The node the VM leaves: its departure from there ends the move's grace. */
  from: string;
  to: string;
  /** The largest TTL the names had at the master before lowering (what resolvers may still hold). */
  oldTtl: number;
  /** The lowered TTL (dns.moveTtl when the move was planned). */
  moveTtl: number;
  /** When the TTL was lowered (epoch ms). */
  loweredAt: number;
  /**
   * When the TTL goes back if the VM never left `from` (the migration failed
   * or the process died): a bound on the wait plus the migration (epoch ms).
   */
  expiresAt: number;
}

/** The part of a departure (compute.ts Departure) the choreography needs. */
export interface DepartureTime {
  vmid: number;
  node: string;
  leftAt: number;
  /** When every server was seen answering the new addresses (compute.ts Departure). */
  agreedAt?: number;
  /** When a server was last seen still answering the old address (compute.ts Departure). */
  laggingAt?: number;
}

/** The planned move a departure completes: same VM, left `from` after the TTL was lowered. */
export function moveOf<M extends PlannedMove>(d: DepartureTime, moves: readonly M[]): M | undefined {
  return moves
    .filter((m) => m.vmid === d.vmid && m.from === d.node && m.loweredAt <= d.leftAt)
    .sort((a, b) => b.loweredAt - a.loweredAt)[0];
}

/**
 * How long the old node forwards after `d`: graceSeconds, but after a planned
 * move at least its old TTL plus the propagation allowance, whatever
 * graceSeconds says (a resolver may hold the old address that long).
 */
export function graceMsFor(config: Config, d: DepartureTime, moves: readonly PlannedMove[]): number {
  const move = moveOf(d, moves);
  return (move ? moveGraceSeconds(config, move.oldTtl) : config.graceSeconds) * 1000;
}

/**
 * PURE: `d` with its stamps as the node reading it at `now` can take them.
 *
 * Grace is the old node's promise to keep forwarding for a while after the
 * VM left, so it is counted on the old node's clock: that node enforces it
 * (its nft timeouts run on it). The stamps come from other nodes (the new
 * node's switch stamps leftAt, any node's reconcile may, a switch marks
 * agreedAt), and Proxmox only assumes the nodes' clocks are kept in sync
 * (NTP), so one may be ahead; /etc/pve has no neutral clock either (pmxcfs
 * stamps a file's mtime with the writing node's time(NULL): pve-cluster
 * src/pmxcfs/cfs-plug-memdb.c). A departure can have happened no later than it
 * is read: a stamp in the reader's future is taken as `now`. Taken alone
 * this would change nothing (once the reader's clock passes the stamp, the
 * stamp looks right again and grace runs on from there, still S too long),
 * so the old node writes the clamped record back (grace-agreement.ts
 * confirmAgreement) and later runs count from when it first saw it. What an
 * admin gets: grace ends graceSeconds (or the agreement rules below) after
 * the old node learned of the move, never graceSeconds plus another node's
 * skew. A stamping clock that is behind cannot be told from an earlier
 * departure: grace may be shorter by that skew (doctor's clock check
 * reports skew against the DNS masters beyond SKEW_WARN_SECONDS).
 */
export function onReaderClock<D extends DepartureTime>(d: D, now: number): D {
  const later = (t: number | undefined) => t !== undefined && t > now;
  if (!later(d.leftAt) && !later(d.agreedAt) && !later(d.laggingAt)) return d;
  return {
    ...d,
    leftAt: Math.min(d.leftAt, now),
    ...(d.agreedAt === undefined ? {} : { agreedAt: Math.min(d.agreedAt, now) }),
    ...(d.laggingAt === undefined ? {} : { laggingAt: Math.min(d.laggingAt, now) }),
  };
}

/**
 * When the old node stops forwarding after `d`. The timer (graceMsFor) always
 * runs; beyond it, grace lasts until every server clients may ask answers the
 * new address and the TTL of the last old answer has run out (agreedAt plus
 * the TTL the names were served with then: dns.moveTtl after a planned move,
 * else dns.ttl). A server seen still answering the old address (laggingAt)
 * keeps grace going until one is seen agreeing, but never past
 * graceMaxSeconds: a dead name server must not keep it forever. Not checked
 * yet (the switch's check records one or the other): the timer. A grace of 0
 * (graceSeconds 0, no planned move) stays none. With `now`, the stamps are
 * read on that clock first (onReaderClock); which planned move `d` completes
 * is still told by the stamps as written (both come from the cluster's nodes).
 */
export function graceEndsAt(
  config: Config,
  stamped: DepartureTime,
  moves: readonly PlannedMove[],
  now?: number,
): number {
  const graceMs = graceMsFor(config, stamped, moves);
  const d = now === undefined ? stamped : onReaderClock(stamped, now);
  if (graceMs === 0) return d.leftAt;
  const timer = d.leftAt + graceMs;
  const limit = d.leftAt + Math.max(graceMs, config.graceMaxSeconds * 1000);
  if (d.agreedAt !== undefined) {
    const ttl = moveOf(stamped, moves)?.moveTtl ?? config.dns.ttl;
    return Math.min(limit, Math.max(timer, d.agreedAt + ttl * 1000));
  }
  return d.laggingAt === undefined ? timer : limit;
}

/** The old node's grace after a planned move whose names had `oldTtl`. */
export function moveGraceSeconds(config: Config, oldTtl: number): number {
  return Math.max(config.graceSeconds, oldTtl + propagationAllowanceSeconds(config));
}

/**
 * How long a change at the master may take to reach every server clients
 * ask: dns.propagation.waitSeconds, the bound a switch waits for them to
 * answer the new address (lib/dns/propagation.ts). That check compares
 * addresses, so it cannot see a lowered TTL arrive: the bound is the allowance.
 */
export function propagationAllowanceSeconds(config: Config): number {
  return config.dns.propagation?.waitSeconds ?? 0;
}

/** When the lowered TTL of `move` goes back to dns.ttl: the end of its departure's grace, else its expiry. */
export function moveEndsAt(
  config: Config,
  move: PlannedMove,
  departures: readonly DepartureTime[],
  moves: readonly PlannedMove[],
): number {
  const completes = (d: DepartureTime) => {
    const m = moveOf(d, moves);
    return m?.vmid === move.vmid && m.from === move.from && m.loweredAt === move.loweredAt;
  };
  const left = departures.filter(completes).sort((a, b) => b.leftAt - a.leftAt)[0];
  return left ? graceEndsAt(config, left, moves) : move.expiresAt;
}

/** The TTL `vmid`'s names should be served with at `now`. */
export function dnsTtlFor(
  config: Config,
  vmid: number,
  moves: readonly PlannedMove[],
  departures: readonly DepartureTime[],
  now: number,
): number {
  const lowered = moves.filter(
    (m) => m.vmid === vmid && m.loweredAt <= now && now < moveEndsAt(config, m, departures, moves),
  );
  return lowered.length ? Math.min(config.dns.ttl, ...lowered.map((m) => m.moveTtl)) : config.dns.ttl;
}

/**
 * The seconds to wait after lowering before migrating: the old TTL plus the
 * propagation allowance, so no resolver still holds an answer with the old
 * TTL; nothing when the names were not served with more than the moved TTL.
 */
export function waitBeforeMoveSeconds(config: Config, oldTtl: number | undefined): number {
  if (oldTtl === undefined || oldTtl <= config.dns.moveTtl) return 0;
  return oldTtl + propagationAllowanceSeconds(config);
}

/** The longest wait `migrate` does by itself; beyond it, `--no-wait` must be asked for. */
export const MAX_MOVE_WAIT_SECONDS = 300;

/** "1h 0m 30s" style, for the lines that say how long a wait would take. */
export function formatSeconds(total: number): string {
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h ? `${h}h ${m}m ${s}s` : m ? `${m}m ${s}s` : `${s}s`;
}
