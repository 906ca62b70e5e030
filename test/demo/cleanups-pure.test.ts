import { describe, expect, it } from "vitest";
import { createCleanups } from "../../lib/demo/cleanup.ts";

// An interrupt may come while named is still starting: its stop step is
// registered only after the first cleanup ran. It must still be undone.
describe("demo cleanups", () => {
  it("runs every step newest first, and a step registered after a cleanup ran at once", async () => {
    const done: string[] = [];
    const cleanups = createCleanups();
    cleanups.add(async () => void done.push("temp dir"));
    cleanups.add(async () => void done.push("sim"));
    await cleanups.run();
    expect(done).toEqual(["sim", "temp dir"]);
    cleanups.add(async () => void done.push("named started late"));
    // No second run() needed: the final pass of an interrupted demo may already be over.
    await new Promise((r) => setTimeout(r, 10));
    expect(done).toEqual(["sim", "temp dir", "named started late"]);
  });

  it("a step registered before any cleanup waits for run()", async () => {
    const done: string[] = [];
    const cleanups = createCleanups();
    cleanups.add(async () => void done.push("named"));
    await new Promise((r) => setTimeout(r, 10));
    expect(done).toEqual([]);
    await cleanups.run();
    expect(done).toEqual(["named"]);
  });
});
