import { afterAll, beforeAll, describe } from "vitest";

// Every fault-matrix file runs its rows against one cluster, started once for
// the file (namespaces, named, HAProxy: tens of seconds on a loaded 2-core
// machine) and skipped, with the reason, where this machine lacks what it
// needs. The start, the stop and their time limits live here, once, for the
// node rows (harness-node.ts) and the DNS rows (harness-run.ts) alike.

/** A cluster's start: the netns world, the masters, the first reconcile. */
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 60_000;

export interface FaultSuiteOptions<F> {
  /** Why the rows cannot run here (`missing(...)`'s answer), or undefined. */
  skip: string | undefined;
  start: () => Promise<F>;
}

/**
 * `describe(title)` with the cluster started before its tests and stopped
 * after them; `body` registers the tests and reaches the cluster through
 * `cluster()` (inside a test, once it started).
 */
export function faultSuite<F extends { stop(): Promise<unknown> }>(
  title: string,
  options: FaultSuiteOptions<F>,
  body: (cluster: () => F) => void,
): void {
  describe.skipIf(options.skip)(title, () => {
    let started: F | undefined;
    beforeAll(async () => {
      started = await options.start();
    }, START_TIMEOUT_MS);
    afterAll(async () => started?.stop(), STOP_TIMEOUT_MS);
    body(() => {
      if (!started) throw new Error(`${title}: the cluster did not start`);
      return started;
    });
  });
}
