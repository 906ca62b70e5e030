import type { DnsConfig } from "../config/types.ts";
import type { DnsClient } from "../dns/client.ts";
import { divergence, type MasterSample } from "../dns/divergence.ts";
import { DnsAllMastersFailed, DnsRejected, masterLabel } from "../dns/errors.ts";
import { messageOf } from "../errors.ts";
import { type Finding, fail, ok, warn } from "./types.ts";

// Every master candidate on its own: a signed SOA query proves the address,
// the port, the zone and the TSIG key at once, without changing anything.
// Candidates whose serials differ are reported (warn).

/** Pure: why a master did not answer -> what to do about it. */
export function dnsHint(err: unknown, dns: Pick<DnsConfig, "zone" | "tsig">): string {
  const key = `key "${dns.tsig.name}" (${dns.tsig.algorithm})`;
  if (err instanceof DnsRejected) {
    const text = `${err.rcode} ${err.detail}`;
    if (/BADKEY/.test(text))
      return `the server does not know ${key}: add it to the server's config or fix dns.tsig.name/algorithm`;
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
    return `the answer's TSIG did not verify with ${key}: check the secret and algorithm`;
  return "check the server's logs";
}

function reasonOf(err: unknown): string {
  if (err instanceof DnsAllMastersFailed) return err.failures.map((f) => f.reason).join("; ");
  if (err instanceof DnsRejected) return `answered ${err.rcode}: ${err.detail}`;
  return messageOf(err);
}

export async function checkDns(dns: DnsConfig, client: DnsClient): Promise<Finding[]> {
  const serials: MasterSample[] = [];
  const findings = await Promise.all(
    dns.masters.map(async (master): Promise<Finding> => {
      const label = masterLabel(master);
      try {
        const soa = await client.querySoa(master);
        serials.push({ master: label, serial: soa.serial });
        return ok("dns", `master ${label} answers SOA for ${soa.zone} (serial ${soa.serial})`);
      } catch (err) {
        return fail("dns", `master ${label}: ${reasonOf(err)}`, dnsHint(err, dns));
      }
    }),
  );
  // Candidates that answer but disagree: a secondary behind NOTIFY, or primaries that do not replicate.
  const order = dns.masters.map(masterLabel);
  serials.sort((x, y) => order.indexOf(x.master) - order.indexOf(y.master));
  for (const line of divergence(serials))
    findings.push(
      warn(
        "dns",
        line,
        "a secondary that lags gets NOTIFY wrong (also-notify, allow-notify) or cannot transfer (allow-transfer); two primaries of one zone must replicate, or list only one",
      ),
    );
  return findings;
}
