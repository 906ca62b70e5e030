// IPv6 text <-> 16 bytes for AAAA records. The text form written back is
// dns-packet's (@leichtgewicht/ip-codec): lower-case hex without leading
// zeros, the FIRST run of two or more zero groups shortened to "::". That is
// not always RFC 5952's choice (the longest run), but it is the form this
// project has always compared, journaled and printed addresses in, so it
// stays (test/dns/codec.test.ts checks it against ip-codec).

/** The 16 bytes of an IPv6 address already validated as such (net.isIPv6, no zone id). */
export function ipv6ToBytes(text: string): Buffer {
  let s = text;
  // An embedded IPv4 tail ("::ffff:192.0.2.1") becomes its two 16-bit groups.
  const lastColon = s.lastIndexOf(":");
  if (s.includes(".", lastColon)) {
    const [a, b, c, d] = s
      .slice(lastColon + 1)
      .split(".")
      .map(Number) as [number, number, number, number];
    s = `${s.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const gap = s.indexOf("::");
  let groups: string[];
  if (gap === -1) groups = s.split(":");
  else {
    const left = s.slice(0, gap) === "" ? [] : s.slice(0, gap).split(":");
    const right = s.slice(gap + 2) === "" ? [] : s.slice(gap + 2).split(":");
    groups = [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  }
  const out = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) out.writeUInt16BE(Number.parseInt(g, 16), 2 * i);
  return out;
}

/** The text of 16 bytes at `offset`, in ip-codec's form (see above). */
export function ipv6FromBytes(buf: Buffer, offset: number): string {
  let result = "";
  for (let i = 0; i < 16; i += 2) {
    if (i !== 0) result += ":";
    result += (((buf[offset + i] as number) << 8) | (buf[offset + i + 1] as number)).toString(16);
  }
  return result.replace(/(^|:)0(:0)*:0(:|$)/, "$1::$3").replace(/:{3,4}/, "::");
}
