import type { DnsMaster } from "../config/types.ts";
import { canonicalAddress } from "./wire/codec.ts";

// PURE: which master candidate is the zone's primary. RFC 2136 section 4
// sends updates to the server named in the SOA MNAME ("the primary master")
// when it can be reached, so forwarding secondaries (and their lag) are only
// a fallback. The MNAME is a name; the candidates are host names or
// addresses with ports. A candidate is the primary when its host is the
// MNAME itself, or one of the MNAME's addresses (as the masters answer for
// it). Only an unambiguous match counts: two candidates on the MNAME's host
// (different ports) could be a primary and a secondary side by side.

const bare = (name: string) => name.toLowerCase().replace(/\.$/, "");

function sameHost(host: string, address: string): boolean {
  const h = canonicalAddress(host.replace(/^\[|\]$/g, ""));
  const a = canonicalAddress(address);
  return h !== undefined && a !== undefined && h.address === a.address;
}

/** The candidate that is the SOA MNAME's server, or undefined when none or several match. */
export function primaryCandidate(
  mname: string,
  mnameAddresses: readonly string[],
  masters: readonly DnsMaster[],
): DnsMaster | undefined {
  const byName = masters.filter((m) => bare(m.host) === bare(mname));
  const matches =
    byName.length > 0 ? byName : masters.filter((m) => mnameAddresses.some((a) => sameHost(m.host, a)));
  return matches.length === 1 ? matches[0] : undefined;
}

/**
 * The order to try candidates in: the primary first, then the configured
 * order; candidates that failed recently (`demoted`) go last in any case.
 */
export function candidateOrder(
  masters: readonly DnsMaster[],
  primary: DnsMaster | undefined,
  demoted: (m: DnsMaster) => boolean,
): DnsMaster[] {
  const ranked = primary ? [primary, ...masters.filter((m) => m !== primary)] : [...masters];
  return [...ranked.filter((m) => !demoted(m)), ...ranked.filter((m) => demoted(m))];
}
