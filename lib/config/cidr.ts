import { isIPv4, isIPv6 } from "node:net";
import type { Parsed } from "./values.ts";

// IPv4 or IPv6 CIDRs ("127.0.0.0/8", "::1/128") for allow-lists, such as the
// name server addresses the DNS propagation check may ask.

export function parseCidr(text: string): Parsed<string> {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  const address = m?.[1] ?? "";
  const bits = Number(m?.[2]);
  const max = isIPv4(address) ? 32 : isIPv6(address) ? 128 : -1;
  if (!m || max < 0 || bits > max)
    return { ok: false, message: `"${text}" is not a CIDR like 127.0.0.0/8 or fd00::/8` };
  return { ok: true, value: text };
}
