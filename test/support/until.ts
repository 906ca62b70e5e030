// Polling for a condition another process or timer brings about (a DNS
// answer, a sim event, a worker's exit): tests wait for what they need to
// see, never for a fixed time, and a timeout names what never came.

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface UntilOptions {
  /** How long to wait in all (default 20 s). */
  ms?: number;
  /** How long between checks (default 50 ms). */
  pollMs?: number;
  /** Added to the timeout's message, e.g. the logs of the process that should have acted. */
  context?: () => string;
}

/** Polls `check` until it holds; after `ms` fails naming `what` (and its context). */
export async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  { ms = 20_000, pollMs = 50, context }: UntilOptions = {},
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${ms} ms waiting for ${what}${context ? `\n${context()}` : ""}`);
    await sleep(pollMs);
  }
}
