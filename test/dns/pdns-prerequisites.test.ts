import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Prerequisite } from "../../lib/dns/wire/update.ts";
import {
  type DnsDaemon,
  dig,
  generateTsigKey,
  startNamedPrimary,
  type TsigKeyFixture,
} from "../support/named.ts";
import { startPowerDns } from "../support/pdns.ts";
import { missing } from "../support/requirements.ts";
import { ZONE } from "./fixtures.ts";
import { prerequisiteVerdict } from "./prereq-probe.ts";

// What PowerDNS accepts among the RFC 2136 prerequisite forms, next to BIND:
// each form is sent raw (signed) to both servers holding the same names.
// PowerDNS checks them in pdns/rfc2136handler.cc: the class ANY/NONE forms
// first (checkUpdatePrerequisites), then the value-dependent RRsets by
// counting matches, which is why a value listed twice passes there.
// The client only sends exact sets without duplicates (changes.ts sectionsFor),
// and treats NXRRSET, YXRRSET, NXDOMAIN and YXDOMAIN alike.

// The prerequisite forms, sent raw to BIND and PowerDNS holding the same names.
// `pre` holds TXT "t" and A 192.0.2.1 + 192.0.2.2; `ent` is an empty non-terminal.
const A = (address: string) => ({ type: "A" as const, address });
const PRE = "pre.example.org";
const ROWS: Array<{ what: string; prereqs: Prerequisite[]; bind: string; pdns: string }> = [
  {
    what: "A RRset equals its exact set",
    prereqs: [{ kind: "rrsetEquals", name: PRE, rdata: [A("192.0.2.1"), A("192.0.2.2")] }],
    bind: "NOERROR",
    pdns: "NOERROR",
  },
  {
    what: "A RRset equals, values in another order",
    prereqs: [{ kind: "rrsetEquals", name: PRE, rdata: [A("192.0.2.2"), A("192.0.2.1")] }],
    bind: "NOERROR",
    pdns: "NOERROR",
  },
  {
    what: "A RRset equals a subset",
    prereqs: [{ kind: "rrsetEquals", name: PRE, rdata: [A("192.0.2.1")] }],
    bind: "NXRRSET",
    pdns: "NXRRSET",
  },
  {
    what: "A RRset equals a superset",
    prereqs: [{ kind: "rrsetEquals", name: PRE, rdata: [A("192.0.2.1"), A("192.0.2.2"), A("192.0.2.3")] }],
    bind: "NXRRSET",
    pdns: "NXRRSET",
  },
  {
    what: "TXT and A RRsets equal (the client's compare-and-swap)",
    prereqs: [
      { kind: "rrsetEquals", name: PRE, rdata: [{ type: "TXT", text: "t" }] },
      { kind: "rrsetEquals", name: PRE, rdata: [A("192.0.2.1"), A("192.0.2.2")] },
      { kind: "rrsetAbsent", name: PRE, type: "AAAA" },
    ],
    bind: "NOERROR",
    pdns: "NOERROR",
  },
  {
    what: "AAAA RRset equals, no AAAA there",
    prereqs: [{ kind: "rrsetEquals", name: PRE, rdata: [{ type: "AAAA", address: "2001:db8::1" }] }],
    bind: "NXRRSET",
    pdns: "NXRRSET",
  },
  {
    what: "A RRset equals a value twice (never sent by the client)",
    prereqs: [{ kind: "rrsetEquals", name: PRE, rdata: [A("192.0.2.1"), A("192.0.2.1")] }],
    bind: "NXRRSET",
    pdns: "NOERROR",
  },
  {
    what: "A RRset exists",
    prereqs: [{ kind: "rrsetExists", name: PRE, type: "A" }],
    bind: "NOERROR",
    pdns: "NOERROR",
  },
  {
    what: "AAAA RRset exists, none there",
    prereqs: [{ kind: "rrsetExists", name: PRE, type: "AAAA" }],
    bind: "NXRRSET",
    pdns: "NXRRSET",
  },
  {
    what: "AAAA RRset absent",
    prereqs: [{ kind: "rrsetAbsent", name: PRE, type: "AAAA" }],
    bind: "NOERROR",
    pdns: "NOERROR",
  },
  {
    what: "A RRset absent, but there",
    prereqs: [{ kind: "rrsetAbsent", name: PRE, type: "A" }],
    bind: "YXRRSET",
    pdns: "YXRRSET",
  },
  { what: "name in use", prereqs: [{ kind: "nameInUse", name: PRE }], bind: "NOERROR", pdns: "NOERROR" },
  {
    what: "name in use, but unknown",
    prereqs: [{ kind: "nameInUse", name: "unknown.example.org" }],
    bind: "NXDOMAIN",
    pdns: "NXDOMAIN",
  },
  {
    what: "name not in use, unknown",
    prereqs: [{ kind: "nameAbsent", name: "unknown.example.org" }],
    bind: "NOERROR",
    pdns: "NOERROR",
  },
  {
    what: "name not in use, but in use",
    prereqs: [{ kind: "nameAbsent", name: PRE }],
    bind: "YXDOMAIN",
    pdns: "YXDOMAIN",
  },
  {
    what: "name not in use, an empty non-terminal",
    prereqs: [{ kind: "nameAbsent", name: "ent.example.org" }],
    bind: "NOERROR",
    pdns: "NOERROR",
  },
  {
    what: "two failing prerequisites, value-dependent first",
    prereqs: [
      { kind: "rrsetEquals", name: PRE, rdata: [A("192.0.2.9")] },
      { kind: "rrsetAbsent", name: PRE, type: "A" },
    ],
    bind: "YXRRSET",
    pdns: "YXRRSET",
  },
];

describe.skipIf(missing({ bins: ["pdns_server", "pdnsutil", "sqlite3", "named", "tsig-keygen", "dig"] }))(
  "prerequisites: PowerDNS next to BIND",
  () => {
    const servers: Record<"bind" | "pdns", DnsDaemon | undefined> = { bind: undefined, pdns: undefined };
    let key: TsigKeyFixture;
    const records = ['pre IN TXT "t"', "pre IN A 192.0.2.1", "pre IN A 192.0.2.2", "a.ent IN A 192.0.2.3"];

    beforeAll(async () => {
      key = await generateTsigKey("pvemigrate-key");
      [servers.bind, servers.pdns] = await Promise.all([
        startNamedPrimary({ zone: ZONE, keys: [key], records }),
        startPowerDns({ zone: ZONE, key, records }),
      ]);
    });
    afterAll(async () => {
      await Promise.allSettled([servers.bind?.stop(), servers.pdns?.stop()]);
    });

    it.each(ROWS.map((row, i) => ({ ...row, i })))(
      "$what: BIND $bind, PowerDNS $pdns; the update applies only on NOERROR",
      async (row) => {
        for (const server of ["bind", "pdns"] as const) {
          const port = (servers[server] as DnsDaemon).port;
          const probe = `probe${row.i}.example.org`;
          const rcode = await prerequisiteVerdict(port, key, row.prereqs, probe);
          expect({ server, rcode }).toEqual({ server, rcode: row[server] });
          expect(await dig(port, probe, "TXT")).toEqual(rcode === "NOERROR" ? ['"probe"'] : []);
        }
      },
    );
  },
);
