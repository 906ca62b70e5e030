import { ExitCode } from "./errors.ts";

// PURE: builds the --json envelope (the contract and its zod schema are in
// lib/envelope.ts, which re-exports these). Kept apart from the schema so the
// CLI's `dns set` fast path (bin/dns-set-fast.ts) prints the same envelope
// without loading zod: Node parses every byte of a bundle at each start.

/** What every command's --json prints; lib/envelope.ts checks that its schema describes exactly this. */
export type Envelope =
  | { ok: true; exitCode: 0 | 4; data: unknown; warnings: string[]; errors: string[] }
  | { ok: false; exitCode: 1 | 2 | 3; data: unknown; warnings: string[]; errors: string[] };

export interface EnvelopeInput {
  data: unknown;
  exitCode: ExitCode;
  warnings?: readonly string[];
  errors?: readonly string[];
}

export function isOk(exitCode: ExitCode): boolean {
  return exitCode === ExitCode.ok || exitCode === ExitCode.changes;
}

/** The envelope of a result. A failing exit code with no error line says which code failed, so `errors` is never empty then. */
export function envelope(r: EnvelopeInput): Envelope {
  const errors = [...(r.errors ?? [])];
  const ok = isOk(r.exitCode);
  if (!ok && errors.length === 0) errors.push(`exit ${r.exitCode}: see data`);
  const common = { data: r.data ?? null, warnings: [...(r.warnings ?? [])], errors };
  return ok
    ? { ok: true, exitCode: r.exitCode === ExitCode.changes ? ExitCode.changes : ExitCode.ok, ...common }
    : {
        ok: false,
        exitCode: r.exitCode === ExitCode.partial ? 3 : r.exitCode === ExitCode.invalid ? 1 : 2,
        ...common,
      };
}

/** A command that threw: no data, its message (one line each) as the errors. */
export function errorEnvelope(exitCode: ExitCode, message: string): Envelope {
  return envelope({ data: null, exitCode, errors: message.split("\n").filter((l) => l !== "") });
}
