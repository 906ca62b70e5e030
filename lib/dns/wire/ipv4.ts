// IPv4 literals without node:net. net.isIPv4 is one regular expression, but
// importing node:net to reach it loads net and the stream modules under it
// (~26 built-ins, ~3 ms at every start of the CLI's `dns set` fast path:
// issue 16, floor 2). The pattern is Node's own (lib/internal/net.js, v4Seg
// and IPv4Reg): dotted quads of 0-255 without leading zeros.
// test/dns/ipv4.test.ts keeps the two in agreement.

const V4_SEGMENT = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])";
const IPV4 = new RegExp(`^(?:${V4_SEGMENT}\\.){3}${V4_SEGMENT}$`);

/** Exactly what net.isIPv4 accepts. */
export function isIPv4(text: string): boolean {
  return IPV4.test(text);
}
