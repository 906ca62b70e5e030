import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config/load.ts";
import { PeerError } from "../../lib/errors.ts";
import { applyOnNode, runOnNode } from "../../lib/remote/apply.ts";
import { remoteSwitchReport } from "../../lib/remote/reports.ts";
import { baseDoc, makeFixture } from "./fixture.ts";

// What another node prints is validated, not cast: `apply --local --json` from
// a node must carry a list of change lines, or the caller gets one PeerError
// naming the node. The "node" here is a local script (remote.transport netns
// runs remote.command locally with --node).

const fx = makeFixture();
afterAll(() => fx.cleanup());

async function configPrinting(json: string, body?: string) {
  const script = join(fx.dir, `node-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(script, body ?? `#!/bin/sh\nprintf '%s\\n' '${json}'\n`);
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

describe("runOnNode quotes a failing node's stderr bounded and escaped", () => {
  it("one line, terminal escapes visible, at most a few hundred characters", async () => {
    // The peer's stderr: a forged log line, an escape sequence, then 20 000 characters.
    const config = await configPrinting(
      "",
      `#!/bin/sh\nprintf 'first\\n\\033[2Jforged line\\n%s' "$(head -c 20000 /dev/zero | tr '\\0' x)" >&2\nexit 2\n`,
    );
    const err = await applyOnNode(config, "pve2").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PeerError);
    const message = (err as Error).message;
    expect(message).toMatch(
      /^node pve2: apply --local failed: \\x1b\[2Jforged line \| x+\.\.\.\(\d+ more characters\)$/,
    );
    expect(message).not.toContain("\n");
    expect(message).not.toContain("\x1b");
    expect(message.length).toBeLessThan(500);
  });
});

describe("a switch report read back from the target is validated, not cast", () => {
  const expected = { schema: remoteSwitchReport, what: "switch report" };
  it("keeps what the target reported", async () => {
    const report = {
      vmid: 101,
      to: "pve2",
      local: { ok: true, value: { changes: ["nat: + tcp/25"] } },
      pending: [],
    };
    const config = await configPrinting(JSON.stringify(report));
    expect(await runOnNode(config, "pve2", ["switch", "101"], expected)).toEqual(report);
  });

  it.each([['{"vmid":"101","to":"pve2","pending":[]}'], ['{"vmid":101,"to":"pve2"}'], ["[]"]])(
    "refuses %s as a PeerError naming the node",
    async (json) => {
      const config = await configPrinting(json);
      await expect(runOnNode(config, "pve2", ["switch", "101"], expected)).rejects.toThrow(
        new PeerError("node pve2: switch 101 printed no switch report"),
      );
    },
  );
});
