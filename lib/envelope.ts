import { z } from "zod";
import type { Envelope } from "./envelope-build.ts";
import { ExitCode } from "./errors.ts";

export { type Envelope, type EnvelopeInput, envelope, errorEnvelope, isOk } from "./envelope-build.ts";

// PURE: the one shape every command's --json output has, successes and
// errors alike, so a script reads `ok`, `exitCode`, `warnings` and `errors`
// the same way whatever it ran, and finds the command's own result in `data`.
// The zod schema below is the contract: docs/json-envelope.schema.json is
// generated from it (scripts/json-schema.ts) and tests validate every
// command's output with it. Readers of another node's output (lib/remote,
// hooks, doctor) go through unwrapEnvelope, which also accepts the bare
// results older versions print.

/** One planned or applied change (lib/plan/types.ts `Change`), as it appears in `data`. */
export const changeSchema = z
  .strictObject({
    op: z.enum(["add", "update", "remove"]).describe("what happens to the key"),
    backend: z
      .enum(["nat", "proxy", "dns"])
      .describe("which kind of state: nft forwards, proxy routes, DNS names"),
    node: z.string().optional().describe("the node whose nft or proxy changes; absent for DNS"),
    vmid: z.number().int().optional().describe("the guest the change is for"),
    key: z.string().describe('what changes: "tcp/2222", "sni mail.example.org", "mail.example.org"'),
    before: z.string().optional().describe("what the key holds now (update, remove)"),
    after: z.string().optional().describe("what the key will hold (add, update)"),
    note: z.string().optional().describe("why, for a human"),
  })
  .describe(
    "one change: what (key) changes how (op) in which state (backend), where (node) and for whom (vmid)",
  );

const lines = z.array(z.string());

/** ok is true exactly for exit 0 (done) and 4 (plan: there are changes; nothing failed). */
export const envelopeSchema = z
  .discriminatedUnion("ok", [
    z.strictObject({
      ok: z.literal(true),
      exitCode: z.union([z.literal(ExitCode.ok), z.literal(ExitCode.changes)]),
      data: z.unknown().describe("the command's result (see docs/JSON.md)"),
      warnings: lines,
      errors: lines,
    }),
    z.strictObject({
      ok: z.literal(false),
      exitCode: z.union([z.literal(ExitCode.invalid), z.literal(ExitCode.peer), z.literal(ExitCode.partial)]),
      data: z.unknown().describe("what the command got done or found before failing; null when nothing"),
      warnings: lines,
      errors: lines.min(1).describe("one line each: what failed"),
    }),
  ])
  .describe("pvemigrate-dns --json output: every command, successes and errors alike");

/** The schema's output is exactly the plain type the builder returns (checked here, at compile time). */
type SchemaEnvelope = z.output<typeof envelopeSchema>;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const envelopeTypesAgree: Same<SchemaEnvelope, Envelope> = true;
void envelopeTypesAgree;

const envelopeShape = z.looseObject({ ok: z.boolean(), exitCode: z.number(), data: z.unknown() });

/** `data` of an envelope another node printed; the document itself when it is a bare result (an older version). */
export function unwrapEnvelope(doc: unknown): unknown {
  const parsed = envelopeShape.safeParse(doc);
  return parsed.success && "warnings" in parsed.data && "errors" in parsed.data ? parsed.data.data : doc;
}
