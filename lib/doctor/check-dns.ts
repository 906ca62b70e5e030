import type { Secret } from "../config/secret.ts";
import type { DnsConfig } from "../config/types.ts";
import { divergence, type MasterSample } from "../dns/divergence.ts";
import { DnsAllMastersFailed, DnsRejected } from "../dns/errors.ts";
import { tsigKeyFrom } from "../dns/key.ts";
import { messageOf } from "../errors.ts";
import { COMPARED_NAMES, type MasterProbe, type ProbeFailure, probeMasters } from "./dns-probe.ts";
import { type Finding, fail, ok, warn } from "./types.ts";

// Every master candidate on its own (dns-probe.ts does the exchanges): a
// signed SOA query proves the address, the port, the zone and the TSIG key
// at once; then whether the masters agree (serials, the configured names'
// answers), whether our key may update (a probe UPDATE that changes
// nothing), and this node's clock against theirs. Judged here, purely.

/** Pure: why a master did not answer -> what to do about it. */
export function dnsHint(err: unknown, dns: Pick<DnsConfig, "zone" | "tsig">): string {
  const key = `key "${dns.tsig.name}" (${dns.tsig.algorithm})`;
  if (err instanceof DnsRejected) {
    const text = `${err.rcode} ${err.detail}`;
    if (/BADKEY/.test(text))
      // Knot answers BADKEY also for a key its config defines but no acl of the zone names.
      return `the server does not know ${key}: add it to the server's config (Knot: and to an acl of ${dns.zone}) or fix dns.tsig.name/algorithm`;
    if (/BADSIG/.test(text))
      return `the secret in ${dns.tsig.secretFile} differs from the server's for ${key}`;
    if (/BADTIME/.test(text)) return "clocks differ: sync time on this node and the server (chrony)";
    if (err.rcode === "NOTAUTH")
      return `the server is not authoritative for ${dns.zone}: check dns.zone and the server's zones`;
    if (err.rcode === "REFUSED")
      return `the server refuses this node or ${key}: check its allow-query / acl for ${dns.zone}`;
    return "the server rejected a plain SOA query: check its logs";
  }
  const reason = err instanceof DnsAllMastersFailed ? (err.failures[0]?.reason ?? "") : messageOf(err);
  if (/no answer within/.test(reason))
    return "timeout: is the DNS server up, is the address right, does a firewall drop port 53?";
  if (/refused/.test(reason))
    return "nothing listens there: start the DNS server or fix the port in dns.masters";
  if (/SERVFAIL/.test(reason))
    return "SERVFAIL: the zone failed to load, or a secondary cannot reach its primary";
  if (/reply rejected/.test(reason))
    // PowerDNS answers a key it does not know (or a wrong secret) with an unsigned NOTAUTH.
    return `the answer's TSIG did not verify with ${key}: check the key's name, secret and algorithm against the server's`;
  return "check the server's logs";
}

function reasonOf(err: unknown): string {
  if (err instanceof DnsAllMastersFailed) return err.failures.map((f) => f.reason).join("; ");
  if (err instanceof DnsRejected) return `answered ${err.rcode}: ${err.detail}`;
  return messageOf(err);
}

/** The probe's failure as the DNS engine's own error, so dnsHint reads it as it reads theirs. */
function errorOf(master: string, failure: ProbeFailure): Error {
  const what = "read SOA";
  return failure.kind === "down"
    ? new DnsAllMastersFailed(what, [{ master, reason: failure.reason }])
    : new DnsRejected(what, master, failure.rcode, failure.detail);
}

/** Beyond this, times written on one node and read on another (leases, grace, lock ages) disagree visibly. */
export const SKEW_WARN_SECONDS = 10;
/** A cluster lock older than 120 s is taken over: a clock this far off breaks live locks. */
export const SKEW_FAIL_SECONDS = 120;

/** PURE: this node's clock against the masters that answered: one finding, or none when none answered. */
export function judgeClock(probes: readonly MasterProbe[]): Finding[] {
  const measured = probes.filter(
    (p): p is MasterProbe & { skewSeconds: number } => p.skewSeconds !== undefined,
  );
  if (measured.length === 0) return [];
  const worst = Math.max(...measured.map((p) => Math.abs(p.skewSeconds)));
  const each = measured
    .map((p) => `${Math.abs(p.skewSeconds)} s ${p.skewSeconds > 0 ? "behind" : "ahead of"} ${p.master}`)
    .join(", ");
  if (worst <= SKEW_WARN_SECONDS)
    return [ok("clock", `this node's clock is within ${SKEW_WARN_SECONDS} s of every master that answered`)];
  const hint =
    "sync the clocks (chrony: `chronyc tracking` on this node and on the master); TSIG refuses more than 300 s, cluster locks break beyond 120 s";
  const message = `this node's clock is ${each} (by the masters' signed replies)`;
  return [worst > SKEW_FAIL_SECONDS ? fail("clock", message, hint) : warn("clock", message, hint)];
}

/** PURE: may our key update the zone? One finding per outcome, naming the masters. */
export function judgeUpdate(
  dns: Pick<DnsConfig, "zone" | "tsig">,
  probes: readonly MasterProbe[],
): Finding[] {
  const key = `key "${dns.tsig.name}"`;
  const allowed = probes.filter((p) => p.update?.kind === "allowed").map((p) => p.master);
  const refused = probes.flatMap((p) =>
    p.update?.kind === "refused" ? [{ master: p.master, u: p.update }] : [],
  );
  const unknown = probes.flatMap((p) =>
    p.update?.kind === "unknown" ? [{ master: p.master, u: p.update }] : [],
  );
  const out: Finding[] = [];
  if (allowed.length > 0)
    out.push(ok("dns-update", `${key} may update ${dns.zone} at ${allowed.join(", ")}`));
  if (refused.length > 0)
    out.push(
      fail(
        "dns-update",
        `${key} may not update ${dns.zone} at ${refused.map((r) => `${r.master} (${r.u.rcode})`).join(", ")}`,
        `grant the key in the zone's update policy (BIND: update-policy { grant "${dns.tsig.name}" zonesub ANY; }; Knot: an acl with action: update and key: ${dns.tsig.name}; PowerDNS: pdnsutil add-meta ${dns.zone} TSIG-ALLOW-DNSUPDATE ${dns.tsig.name}), or set dns.tsig to the key that has it`,
      ),
    );
  if (unknown.length > 0)
    out.push(
      warn(
        "dns-update",
        `cannot tell whether ${key} may update ${dns.zone} at ${unknown.map((r) => `${r.master} (${r.u.reason})`).join(", ")}`,
        "see the server's log for the probe update of _pvemigrate-doctor-*",
      ),
    );
  return out;
}

/** PURE: every finding of the masters' probes: reachability, agreement, update permission, clock. */
export function judgeMasters(
  dns: Pick<DnsConfig, "zone" | "tsig">,
  probes: readonly MasterProbe[],
): Finding[] {
  const findings: Finding[] = probes.map((p) =>
    p.failure
      ? fail(
          "dns",
          `master ${p.master}: ${reasonOf(errorOf(p.master, p.failure))}`,
          dnsHint(errorOf(p.master, p.failure), dns),
        )
      : ok("dns", `master ${p.master} answers SOA for ${dns.zone.replace(/\.$/, "")} (serial ${p.serial})`),
  );
  // Candidates that answer but disagree: a secondary behind NOTIFY, or primaries that do not replicate.
  const lines = divergence(
    probes.filter((p) => p.serial !== undefined).map((p) => ({ master: p.master, serial: p.serial })),
  );
  const names = new Set(probes.flatMap((p) => [...(p.answers?.keys() ?? [])]));
  const differ: string[] = [];
  for (const name of names) {
    const samples: MasterSample[] = probes.flatMap((p) => {
      const answer = p.answers?.get(name);
      return answer ? [{ master: p.master, answer }] : [];
    });
    const [line] = divergence(samples);
    if (line) differ.push(`${name}: ${line.replace(/^masters answer differently: /, "")}`);
  }
  if (differ.length > 0)
    lines.push(`masters answer differently for ${differ.length} name(s): ${differ.join("; ")}`);
  // One problem (the masters do not replicate), however many ways it shows: one finding.
  if (lines.length > 0)
    findings.push(
      warn(
        "dns",
        lines.join("; "),
        "a secondary that lags gets NOTIFY wrong (also-notify, allow-notify) or cannot transfer (allow-transfer); two primaries of one zone must replicate, or list only one",
      ),
    );
  return [...findings, ...judgeUpdate(dns, probes), ...judgeClock(probes)];
}

export interface CheckDnsOptions {
  /** Wall clock in ms (default Date.now): signs the probes and measures the skew. */
  clock?: () => number;
  /** Configured names to compare across masters (the first COMPARED_NAMES). */
  names?: readonly string[];
}

export async function checkDns(
  dns: DnsConfig,
  tsigSecret: Secret,
  opts: CheckDnsOptions = {},
): Promise<Finding[]> {
  const probes = await probeMasters({
    dns,
    key: tsigKeyFrom(dns.tsig, tsigSecret),
    clock: opts.clock ?? Date.now,
    names: (opts.names ?? []).slice(0, COMPARED_NAMES),
  });
  return judgeMasters(dns, probes);
}
