import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config/load.ts";
import { PeerError } from "../../lib/errors.ts";
import { applyOnNode } from "../../lib/remote/apply.ts";
import { baseDoc, makeFixture } from "./fixture.ts";

// What another node prints is validated, not cast: `apply --local --json` from
// a node must carry a list of change lines, or the caller gets one PeerError
// naming the node. The "node" here is a local script (remote.transport netns
// runs remote.command locally with --node).

const fx = makeFixture();
afterAll(() => fx.cleanup());

async function configPrinting(json: string) {
  const script = join(fx.dir, `node-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(script, `#!/bin/sh\nprintf '%s\\n' '${json}'\n`);
  chmodSync(script, 0o755);
  const doc = baseDoc();
  doc.remote = { transport: "netns", command: [script] };
  doc.pveRoot = join(fx.dir, "pve");
  return (await loadConfig(fx.write(doc))).config;
}

describe("applyOnNode reads back another node's answer", () => {
  it("returns the change lines the node printed", async () => {
    const config = await configPrinting(
      '{"node":"pve2","changes":["+ tcp/25 -> 10.10.1.101:25"],"applied":true}',
    );
    expect(await applyOnNode(config, "pve2")).toEqual({
      node: "pve2",
      changes: ["+ tcp/25 -> 10.10.1.101:25"],
    });
  });

  it.each([["null"], ['{"changes":5}'], ['{"changes":[{"line":1}]}'], ["[]"]])(
    "refuses %s as a PeerError naming the node",
    async (json) => {
      const config = await configPrinting(json);
      await expect(applyOnNode(config, "pve2")).rejects.toThrow(
        new PeerError("node pve2: apply --local printed no list of changes"),
      );
    },
  );
});
