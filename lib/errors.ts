// Exit codes are part of the CLI contract (README "Exit codes"); every error
// that reaches the top level carries the code it maps to.

export const ExitCode = {
  ok: 0,
  /** Invalid input or config: nothing was changed. */
  invalid: 1,
  /** A peer failed (DNS master, Proxmox API, node): nothing was changed, or it was journaled. */
  peer: 2,
  /** Partial success: some work was applied, the rest is journaled for the next run. */
  partial: 3,
  /** `plan`: the cluster differs from the config; nothing was changed (terraform's -detailed-exitcode 2). */
  changes: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** What each exit code tells the caller: README's "Exit codes" table and the man page's EXIT STATUS. */
export const exitCodeMeanings: Readonly<Record<ExitCode, string>> = {
  0: "ok",
  1: "invalid input or config: nothing was changed; every problem is printed as field.path: what is wrong",
  2: "a peer failed (DNS master, Proxmox API, another node): nothing was changed, or the work was journaled",
  3: "partial success: part of the work was applied, the rest is journaled and the next run finishes it",
  4: "plan only: there are changes to apply (nothing was changed); plan exits 0 when there are none",
};

/** Bad input or config; message is one line naming the field or argument. */
export class InputError extends Error {
  readonly exitCode = ExitCode.invalid;
  override name = "InputError";
}

/** A peer (DNS master, Proxmox API, another node, nft, haproxy) failed. */
export class PeerError extends Error {
  readonly exitCode = ExitCode.peer;
  override name = "PeerError";
}

export function exitCodeOf(err: unknown): ExitCode {
  if (err && typeof err === "object" && "exitCode" in err) {
    const code = (err as { exitCode: unknown }).exitCode;
    if (code === 1 || code === 2 || code === 3) return code;
  }
  return ExitCode.peer;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The `code` of a Node system error (`ENOENT`, `EEXIST`, ...); undefined for anything else. */
export function errnoCode(err: unknown): string | undefined {
  return err && typeof err === "object" && "code" in err ? String(err.code) : undefined;
}
