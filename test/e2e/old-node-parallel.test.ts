import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config/load.ts";
import { createRuntime } from "../../lib/orchestrate/runtime.ts";
import { type SwitchReport, switchVm } from "../../lib/orchestrate/switch.ts";
import { dig } from "../support/named.ts";
import { missing } from "../support/requirements.ts";
import { until } from "../support/until.ts";
import { type Harness, startHarness } from "./harness.ts";

// A switch's old-node step (`apply --local` there, over ssh: up to its 120 s
// timeout when the node hangs) and its DNS step run side by side, each under
// its own journal item (issue 16 floor 4). Proved by order, not by time: the
// old node's step is HELD (remote.command is a wrapper that waits for the test
// to let it go) and the name must already answer the new node meanwhile.

describe.skipIf(missing({ bins: ["named", "dig", "tsig-keygen"] }))("the old node's step beside DNS", () => {
  let h: Harness;
  let heldConfig: string;
  const entered = () => join(h.dir, "old-node-entered");
  const go = () => join(h.dir, "old-node-go");

  beforeAll(async () => {
    h = await startHarness({ secondary: false });
    // The old node's step: a wrapper that says it started, then waits for the test.
    const wrapper = join(h.dir, "held-node.sh");
    writeFileSync(
      wrapper,
      `#!/bin/sh\n: > "${entered()}"\nwhile [ ! -e "${go()}" ]; do sleep 0.05; done\nexec "${process.execPath}" "${h.bundle}" "$@"\n`,
    );
    chmodSync(wrapper, 0o755);
    heldConfig = h.writeConfigVariant("held-old-node", (doc) => {
      (doc.remote as Record<string, unknown>).command = [wrapper];
    });
  }, 90_000);
  afterAll(async () => {
    if (h) writeFileSync(go(), "");
    await h?.stop();
  });

  it("a live-migrated VM's names move to the new node while the old node's step is still held; that step stays journaled on its own until it ends", async () => {
    await switchVm(h.runtime("pve1"), 101);
    expect(await dig(h.primary.port, "mail.example.org", "A")).toEqual(["203.0.113.10"]);

    // phase3_cleanup moved the config to pve2 and the VM runs there; pve2's worker switches.
    h.sim.moveVm(101, "pve2");
    const rt = createRuntime(await loadConfig(heldConfig), { node: "pve2", log: () => {} });
    let report: SwitchReport | undefined;
    const switching = switchVm(rt, 101, { from: "pve1" }).then((r) => {
      report = r;
    });

    await until("the old node's step to start", () => existsSync(entered()));
    await until(
      "mail.example.org -> pve2 while pve1's step is held",
      async () => (await dig(h.primary.port, "mail.example.org", "A")).join() === "203.0.113.20",
    );
    // The DNS step ends and is cleared; the old node's stays journaled on its own.
    const pending = async () => (await rt.state.cluster.list()).map((i) => i.id);
    await until("the DNS step cleared", async () => !(await pending()).some((id) => id.includes("dns")));
    expect((await pending()).filter((id) => id.endsWith("node:pve1"))).toHaveLength(1);
    expect(existsSync(go())).toBe(false);
    expect(report).toBeUndefined();

    writeFileSync(go(), "");
    await switching;
    expect(report).toMatchObject({ from: "pve1", old: { ok: true }, dns: { ok: true }, pending: [] });
    expect(await rt.state.cluster.list()).toEqual([]);
  }, 60_000);
});
