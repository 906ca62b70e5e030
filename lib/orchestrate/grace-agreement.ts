import { computeDesired, type Departure } from "../desired/compute.ts";
import { graceEndsAt, onReaderClock } from "../desired/ttl.ts";
import type { Expectation } from "../dns/propagation.ts";
import { messageOf } from "../errors.ts";
import type { World } from "./observe.ts";
import type { Runtime } from "./runtime.ts";

// Grace ends once every server clients may ask answers the VM's new
// addresses and the TTL of the last old answer ran out (lib/desired/ttl.ts
// graceEndsAt). The switch's propagation check marks most departures at once;
// this finishes the rest: each run, before it converges, the old node asks
// the servers about its departures not yet seen agreeing (recorded by itself,
// a switch that died before its check, a server that lagged) and marks what
// it sees, so a lagging server extends the grace before the timer ends it.

/** PURE: departures from `self`, still in grace, that nobody has seen agree yet. */
export function awaitingAgreement(
  self: string,
  world: Pick<World, "config" | "departures" | "moves">,
  now: number,
): Departure[] {
  const { config, departures, moves } = world;
  return departures.filter((d) => {
    return d.node === self && d.agreedAt === undefined && now < graceEndsAt(config, d, moves, now);
  });
}

/** PURE: what the servers should answer for `vmid`'s names now (its desired DNS entries). */
export function expectationsFor(
  vmid: number,
  world: Pick<World, "config" | "placements" | "departures" | "moves">,
  now: number,
): Expectation[] {
  const desired = computeDesired(world.config, world.placements, world.departures, now, world.moves);
  return desired.dns
    .filter((e) => e.vmid === vmid)
    .map((e) => ({ name: e.name, expected: { a: e.a, aaaa: e.aaaa } }));
}

/** Asks the servers about this node's departures that await agreement; marks those that agree. Lines for the report. */
export async function confirmAgreement(rt: Runtime, world: World): Promise<string[]> {
  const now = rt.now();
  const lines: string[] = [];
  // Stamped ahead of this node's clock: counted from now, written down so the
  // next run does not start again (lib/desired/ttl.ts onReaderClock).
  for (const d of world.departures.filter((x) => x.node === rt.self)) {
    const seen = onReaderClock(d, now);
    if (seen === d) continue;
    // Replaces the pair's record; a mark another node wrote since the read is lost, and is taken again.
    await rt.departures.add(seen);
    const ahead = Math.round((Math.max(d.leftAt, d.agreedAt ?? 0, d.laggingAt ?? 0) - now) / 1000);
    lines.push(
      `departure of VM ${d.vmid} was stamped ${ahead} s ahead of this node's clock: its grace counts from now (check the nodes' time sync)`,
    );
  }
  for (const d of awaitingAgreement(rt.self, world, now)) {
    const expectations = expectationsFor(d.vmid, world, now);
    if (expectations.length === 0) continue;
    try {
      const report = await rt.dns.checkPropagation(expectations);
      await rt.departures.markPropagation(d.vmid, d.node, { agreed: report.agreed, at: now });
      if (report.agreed) {
        lines.push(`grace of VM ${d.vmid}: every server answers its new address; grace ends after the TTL`);
      } else {
        const who = [...new Set(report.lagging.map((l) => l.server))].join(", ");
        lines.push(`grace of VM ${d.vmid} goes on: ${who || "some servers"} still answer the old address`);
      }
    } catch (err) {
      lines.push(`grace of VM ${d.vmid}: agreement not checked: ${messageOf(err).split("\n")[0]}`);
    }
  }
  return lines;
}
