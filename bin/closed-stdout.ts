// A reader that stops early (`pvemigrate-dns status | head -1`) closes the
// pipe: the next write to stdout fails with EPIPE, which Node raises as an
// unhandled 'error' event, a crash with a stack trace. The command is not at
// fault, and it may be half-way through work that should finish (a reconcile
// records its steps as it goes): stdout is given up and the command ends as
// it would have, with its own exit code.

const guarded = new WeakSet<NodeJS.WriteStream>();

/** Ignore stdout's closed pipe (and writes after it); any other stdout error stays fatal. */
export function ignoreClosedStdout(stream: NodeJS.WriteStream = process.stdout): void {
  // Once per stream: runCli may run many times in one process (tests, the demo).
  if (guarded.has(stream)) return;
  guarded.add(stream);
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE" || err.code === "ERR_STREAM_DESTROYED") return;
    throw err;
  });
}
