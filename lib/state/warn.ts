// The state modules' default for their `warn` option: one stderr line under the
// tool's name, for callers that pass no logger of their own (the hookscript,
// `apply --local`, tests). No imports, so the hookscript's synchronous fast path
// (local-lock.ts, local-journal.ts) loads nothing more for it.

/** Writes `pvemigrate-dns: <message>` as one line to stderr. */
export const warnOnStderr = (message: string): void => {
  process.stderr.write(`pvemigrate-dns: ${message}\n`);
};
