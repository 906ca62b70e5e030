import {
  appendFileSync,
  chmodSync,
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readConfigCache, readHookViewSync, writeConfigCache } from "../../lib/config/cache.ts";
import { hookViewForNode, hookViewOf, parseHookView, viewListsVm } from "../../lib/config/hook-view.ts";
import { loadConfig } from "../../lib/config/load.ts";
import type { Config } from "../../lib/config/types.ts";
import { scaleIp } from "../../lib/sim/scale.ts";
import { missing } from "../support/requirements.ts";
import { baseDoc, type Fixture, makeFixture } from "./fixture.ts";

// The hookscript's view of the config (issue 16: a hook costs about the same
// at 10,000 guests): kept in the cache entry's header, read with the file's
// text and nothing after it, valid only for the exact bytes it was made from.

describe("the hook's view of a config (pure)", () => {
  let fx: Fixture;
  let config: Config;
  beforeAll(async () => {
    fx = makeFixture();
    const doc = baseDoc();
    doc.stateDir = "/var/lib/pvemigrate-dns/{node}";
    doc.strict = true;
    ({ config } = await loadConfig(fx.write(doc)));
  });
  afterAll(() => fx.cleanup());

  it("names the nodes, strict, pveRoot and the state dir, which gets this node's name", () => {
    const view = hookViewForNode(hookViewOf(config), "pve2");
    expect(view).toMatchObject({ strict: true, nodes: ["pve1", "pve2"], pveRoot: config.pveRoot });
    expect(view.stateDir).toBe("/var/lib/pvemigrate-dns/pve2");
    expect(view.source).toBe(config.source);
  });

  it("lists exactly the file's vmids: no prefix or suffix of one passes for another", () => {
    const view = hookViewOf(config);
    expect(viewListsVm(view, 101)).toBe(true);
    expect(viewListsVm(view, 102)).toBe(true);
    for (const other of [10, 1, 1010, 1101, 110, 103])
      expect(viewListsVm(view, other), String(other)).toBe(false);
    expect(viewListsVm(hookViewOf({ ...config, vms: {} }), 101)).toBe(false);
  });

  it("a stored view of the wrong shape is no view", () => {
    const good = hookViewOf(config);
    expect(parseHookView(JSON.parse(JSON.stringify(good)))).toEqual(good);
    for (const bad of [
      undefined,
      [],
      { ...good, strict: "yes" },
      { ...good, nodes: "pve1" },
      { ...good, nodes: [1] },
      { ...good, vmids: [101] },
      { ...good, stateDir: undefined },
    ])
      expect(parseHookView(bad)).toBeUndefined();
  });
});

describe.skipIf(missing({ root: true }))("the hook's view in the config cache (root)", () => {
  let fx: Fixture;
  let dir: string;
  let file: string;
  let config: Config;
  beforeAll(async () => {
    fx = makeFixture();
    dir = mkdtempSync(join(tmpdir(), "pvemigrate-hook-view-"));
    file = fx.write(baseDoc());
    ({ config } = await loadConfig(file));
  });
  afterAll(() => {
    fx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const entry = () => join(dir, readdirSync(dir).find((n) => n.endsWith(".json")) ?? "none");
  const viewOf = (path = file) => {
    const fd = openSync(path, "r");
    try {
      return readHookViewSync(path, fd, dir);
    } finally {
      closeSync(fd);
    }
  };

  it("reads the view from the header and the text alone: the config JSON after them may be anything", async () => {
    const text = readFileSync(file, "utf8");
    await writeConfigCache(config, text, dir);
    expect(viewOf()).toEqual(hookViewOf(config));
    // Cut the normalized config short: the full read misses, the hook's view still holds.
    const body = readFileSync(entry());
    const textEnd = body.indexOf(0x0a) + 1 + Buffer.byteLength(text);
    writeFileSync(entry(), Buffer.concat([body.subarray(0, textEnd), Buffer.from('{"cut')]), { mode: 0o600 });
    expect(await readConfigCache(file, text, dir)).toBeUndefined();
    expect(viewOf()).toEqual(hookViewOf(config));
  });

  it("misses when one byte of the file changes, when it grew, and when it was cut", async () => {
    const text = `${readFileSync(file, "utf8")}#a\n`;
    writeFileSync(file, text);
    await writeConfigCache(config, text, dir);
    expect(viewOf()).toEqual(hookViewOf(config));
    writeFileSync(file, `${text.slice(0, -2)}b\n`);
    expect(viewOf()).toBeUndefined();
    writeFileSync(file, text);
    appendFileSync(file, "# more\n");
    expect(viewOf()).toBeUndefined();
    writeFileSync(file, text.slice(0, -1));
    expect(viewOf()).toBeUndefined();
    writeFileSync(file, text);
    expect(viewOf()).toEqual(hookViewOf(config));
  });

  it("ignores an entry others could have written, and one of another format", async () => {
    const text = readFileSync(file, "utf8");
    await writeConfigCache(config, text, dir);
    chmodSync(entry(), 0o666);
    expect(viewOf()).toBeUndefined();
    chmodSync(entry(), 0o600);
    const body = readFileSync(entry(), "utf8");
    const newline = body.indexOf("\n");
    const header = { ...JSON.parse(body.slice(0, newline)), format: 6 };
    writeFileSync(entry(), `${JSON.stringify(header)}${body.slice(newline)}`, { mode: 0o600 });
    expect(viewOf()).toBeUndefined();
  });

  it("reads a header longer than its first read (thousands of vmids)", async () => {
    const vms = Object.fromEntries(
      // Past baseDoc's 10.10.1.x.
      Array.from({ length: 5000 }, (_, i) => [String(1000 + i), { ip: scaleIp(500 + i) }]),
    );
    const many = fx.write({ ...baseDoc(), vms }, "many.yaml");
    const loaded = await loadConfig(many);
    await writeConfigCache(loaded.config, readFileSync(many, "utf8"), dir);
    const view = viewOf(many);
    expect(view?.vmids.length).toBeGreaterThan(16 * 1024);
    expect(view && viewListsVm(view, 5999)).toBe(true);
    expect(view && viewListsVm(view, 6000)).toBe(false);
  });
});
