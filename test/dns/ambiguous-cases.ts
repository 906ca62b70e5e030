import { afterAll, expect, it } from "vitest";
import type { DnsConfig } from "../../lib/config/types.ts";
import { createDnsClient } from "../../lib/dns/client.ts";
import { DnsAllMastersFailed } from "../../lib/dns/errors.ts";
import type { TsigKey } from "../../lib/dns/wire/tsig.ts";
import { dig, type TsigKeyFixture } from "../support/named.ts";
import { dnsConfig, master, secretOf } from "./fixtures.ts";
import {
  deadAfterUpdateRelay,
  lateReplyRelay,
  otherQuestionRelay,
  type Relay,
  tcpUpdateRelay,
} from "./relays.ts";

// Ambiguous outcomes, against a real master behind a relay (BIND, Knot and
// PowerDNS run the same cases): an UPDATE that was sent and got no
// trustworthy reply is read back before anything else happens, and a signed
// reply to another question is not an answer.

export interface AmbiguityContext {
  port: () => number;
  key: () => TsigKeyFixture;
  /** knotd may hold an UPDATE until the next one arrives (see cases.ts): then the resend finds it applied. */
  lateAnswers?: boolean;
}

// Generous next to a master's own latency on a loaded machine: the read-back
// should find the UPDATE processed (if it races ahead, the resend is still a
// compare-and-swap and the outcome the same).
const TIMEOUT_MS = 600;

export function ambiguousOutcomeCases(ctx: AmbiguityContext): void {
  const relays: Relay[] = [];
  afterAll(async () => {
    await Promise.allSettled(relays.map((r) => r.close()));
  });
  const tsigKey = (): TsigKey => {
    const k = ctx.key();
    return { name: k.name, algorithm: k.algorithm, secret: Buffer.from(k.secret, "base64") };
  };
  const client = (ports: number[], overrides: Partial<DnsConfig> = {}) =>
    createDnsClient({
      dns: dnsConfig(ports.map(master), ctx.key(), {
        timeoutMs: TIMEOUT_MS,
        totalTimeoutMs: 4000,
        ...overrides,
      }),
      tsigSecret: secretOf(ctx.key()),
    });
  const track = async (r: Promise<Relay>) => {
    const relay = await r;
    relays.push(relay);
    return relay;
  };

  it("a reply that arrives after the per-attempt timeout: read back, reported as applied", async () => {
    const relay = await track(lateReplyRelay(ctx.port(), TIMEOUT_MS * 3));
    const r = await client([relay.port]).setAddresses([
      { name: "late.example.org", a: ["192.0.2.61"], aaaa: [], expect: { a: [], aaaa: [] } },
    ]);
    expect(await dig(ctx.port(), "late.example.org", "A")).toEqual(["192.0.2.61"]);
    if (ctx.lateAnswers && r.outcomes[0]?.status === "unchanged") return;
    expect(r.outcomes[0]).toMatchObject({ status: "updated", master: `127.0.0.1:${relay.port}` });
    expect(r.outcomes[0]?.status === "updated" && r.outcomes[0].readBack).toMatch(
      new RegExp(`^no answer within \\d+ ms \\(udp\\); read back at 127\\.0\\.0\\.1:${relay.port}: applied$`),
    );
  });

  it("a TCP connection lost after the UPDATE was written: read back, reported as applied", async () => {
    const relay = await track(tcpUpdateRelay(ctx.port(), { kind: "drop" }));
    const r = await client([relay.port]).setAddresses([
      { name: "dropped.example.org", a: ["192.0.2.62"], aaaa: [], expect: { a: [], aaaa: [] } },
    ]);
    expect(await dig(ctx.port(), "dropped.example.org", "A")).toEqual(["192.0.2.62"]);
    if (ctx.lateAnswers && r.outcomes[0]?.status === "unchanged") return;
    expect(r.outcomes[0]?.status === "updated" && r.outcomes[0].readBack).toMatch(
      /tcp connection closed after sending, without an answer; read back at .*: applied$/,
    );
  });

  it("a truncated reply over TCP is no answer: the read-back finds nothing applied and the next candidate takes it", async () => {
    const relay = await track(tcpUpdateRelay(ctx.port(), { kind: "truncated", key: tsigKey() }));
    const r = await client([relay.port, ctx.port()]).setAddresses([
      { name: "truncated.example.org", a: ["192.0.2.63"], aaaa: [], expect: { a: [], aaaa: [] } },
    ]);
    expect(await dig(ctx.port(), "truncated.example.org", "A")).toEqual(["192.0.2.63"]);
    // Knot may hold an UPDATE until the next one arrives: the retry then finds it applied (cases.ts).
    if (ctx.lateAnswers && r.outcomes[0]?.status === "unchanged") return;
    expect(r.acceptedBy).toEqual([`127.0.0.1:${ctx.port()}`]);
    expect(r.outcomes[0]).toMatchObject({ master: `127.0.0.1:${ctx.port()}` });
    expect(await dig(ctx.port(), "truncated.example.org", "A")).toEqual(["192.0.2.63"]);
  });

  it("a master that dies after taking the UPDATE: the error says it may have been applied; a later read confirms it", async () => {
    const relay = await track(deadAfterUpdateRelay(ctx.port()));
    const err = await client([relay.port], { totalTimeoutMs: 1500 })
      .setAddresses([
        { name: "unsure.example.org", a: ["192.0.2.64"], aaaa: [], expect: { a: [], aaaa: [] } },
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DnsAllMastersFailed);
    expect((err as DnsAllMastersFailed).mayHaveApplied).toBe(true);
    expect((err as Error).message.split("\n")[0]).toBe(
      `update unsure.example.org: all 1 DNS master candidate(s) failed; it may have been applied at 127.0.0.1:${relay.port} (sent, no trustworthy answer, not confirmed by a read-back)`,
    );
    expect(await dig(ctx.port(), "unsure.example.org", "A")).toEqual(["192.0.2.64"]);
    // What the journal replay does: read, then write only if needed; it finds the name done.
    const replay = await client([ctx.port()]).setAddresses([
      { name: "unsure.example.org", a: ["192.0.2.64"], aaaa: [] },
    ]);
    expect(replay.outcomes[0]).toMatchObject({ status: "unchanged" });
  });

  it("a signed reply to another question is rejected, not read as the answer", async () => {
    const relay = await track(
      otherQuestionRelay(ctx.port(), tsigKey(), "asked.example.org", "legacy.example.org"),
    );
    const err = await client([relay.port], { totalTimeoutMs: 500 })
      .query("asked.example.org")
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DnsAllMastersFailed);
    expect((err as Error).message).toMatch(
      /reply rejected: its question \(legacy\.example\.org\/1\) differs from the request's \(asked\.example\.org\/1\)/,
    );
  });
}
