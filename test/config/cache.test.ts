import {
  lstatSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { configCacheFile, readConfigCache, writeConfigCache } from "../../lib/config/cache.ts";
import { ConfigError, loadConfig } from "../../lib/config/load.ts";
import type { Config } from "../../lib/config/types.ts";
import { tempPathFor } from "../../lib/state/atomic-write.ts";
import { missing } from "../support/requirements.ts";
import { baseDoc, type Fixture, makeFixture, TOKEN_SECRET, TSIG_SECRET } from "./fixture.ts";

// Temporary names made guessable, to plant a link at one.
vi.mock("../../lib/state/token.ts", () => ({ uniqueToken: () => "guessable" }));

// The hook's config cache: valid only for the exact bytes it was made from,
// never holding secrets, and only trusted when root wrote it.

describe.skipIf(missing({ root: true }))("config cache (root)", () => {
  let fx: Fixture;
  let dir: string;
  let file: string;
  let config: Config;
  beforeAll(async () => {
    fx = makeFixture();
    dir = mkdtempSync(join(tmpdir(), "pvemigrate-cache-"));
    file = fx.write(baseDoc());
    ({ config } = await loadConfig(file));
  });
  afterAll(() => {
    fx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("returns the normalized config while the file's bytes are unchanged", async () => {
    const text = readFileSync(file, "utf8");
    await writeConfigCache(config, text, dir);
    expect(await readConfigCache(file, text, dir)).toEqual(config);
  });

  it("misses as soon as one byte changes", async () => {
    const text = readFileSync(file, "utf8");
    await writeConfigCache(config, text, dir);
    expect(await readConfigCache(file, `${text}# edited\n`, dir)).toBeUndefined();
  });

  it("holds no secret", async () => {
    const text = readFileSync(file, "utf8");
    await writeConfigCache(config, text, dir);
    const dump = readFileSync(join(dir, (await import("node:fs")).readdirSync(dir)[0]!), "utf8");
    expect(dump).not.toContain(TOKEN_SECRET);
    expect(dump).not.toContain(TSIG_SECRET);
  });

  it("ignores an entry others could have written", async () => {
    const text = readFileSync(file, "utf8");
    await writeConfigCache(config, text, dir);
    const entry = join(dir, (await import("node:fs")).readdirSync(dir).find((n) => n.endsWith(".json"))!);
    const { chmodSync } = await import("node:fs");
    chmodSync(entry, 0o666);
    expect(await readConfigCache(file, text, dir)).toBeUndefined();
    writeFileSync(entry, "garbage");
    chmodSync(entry, 0o600);
    expect(await readConfigCache(file, text, dir)).toBeUndefined();
  });

  it("never writes through a link planted at the temporary file's name (guessed: the token is fixed here)", async () => {
    const text = readFileSync(file, "utf8");
    const entry = configCacheFile(resolve(file), dir);
    rmSync(entry, { force: true });
    const target = join(fx.dir, "precious");
    writeFileSync(target, "precious\n", { mode: 0o644 });
    const temp = tempPathFor(entry);
    symlinkSync(target, temp);
    try {
      await writeConfigCache(config, text, dir);
      expect(readFileSync(target, "utf8")).toBe("precious\n");
      expect(lstatSync(temp).isSymbolicLink()).toBe(true);
    } finally {
      unlinkSync(temp);
    }
    await writeConfigCache(config, text, dir);
    expect(await readConfigCache(file, text, dir)).toEqual(config);
  });

  it("ignores an entry an older version wrote (format 5: one JSON object holding the text)", async () => {
    const text = readFileSync(file, "utf8");
    await writeConfigCache(config, text, dir);
    const entry = join(dir, (await import("node:fs")).readdirSync(dir).find((n) => n.endsWith(".json"))!);
    writeFileSync(entry, JSON.stringify({ format: 5, source: file, text, config }), { mode: 0o600 });
    expect(await readConfigCache(file, text, dir)).toBeUndefined();
  });

  it("ignores an entry whose header names another format, even with the same text", async () => {
    const text = readFileSync(file, "utf8");
    await writeConfigCache(config, text, dir);
    const entry = join(dir, (await import("node:fs")).readdirSync(dir).find((n) => n.endsWith(".json"))!);
    const body = readFileSync(entry, "utf8");
    const newline = body.indexOf("\n");
    const header = { ...JSON.parse(body.slice(0, newline)), format: 4 };
    writeFileSync(entry, `${JSON.stringify(header)}${body.slice(newline)}`, { mode: 0o600 });
    expect(await readConfigCache(file, text, dir)).toBeUndefined();
  });

  it("misses when the text differs in the last byte only, at the same length", async () => {
    const text = `${readFileSync(file, "utf8")}#a\n`;
    await writeConfigCache(config, text, dir);
    expect(await readConfigCache(file, `${text.slice(0, -2)}b\n`, dir)).toBeUndefined();
    expect(await readConfigCache(file, text, dir)).toEqual(config);
  });
});

// loadConfig itself (every CLI command, the reconcile timer): a steady run
// with the file unchanged takes the cached config; anything else validates.
describe.skipIf(missing({ root: true }))("loadConfig with the cache (root)", () => {
  let fx: Fixture;
  let file: string;
  beforeEach(() => {
    fx = makeFixture();
    file = fx.write(baseDoc());
  });
  afterEach(() => fx.cleanup());

  it("takes the cached config while the file is unchanged instead of parsing it again", async () => {
    const { config } = await loadConfig(file);
    // A marker only the cache holds: a second load that parsed the file would not see it.
    await writeConfigCache({ ...config, dns: { ...config.dns, ttl: 4242 } }, readFileSync(file, "utf8"));
    expect((await loadConfig(file)).config.dns.ttl).toBe(4242);
  });

  it("validates an edited file again, whatever the cache holds", async () => {
    await loadConfig(file);
    const doc = baseDoc();
    doc.vms[101].ip = "10.10.1.300";
    fx.write(doc);
    const err = await loadConfig(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => p.path)).toEqual(["vms.101.ip"]);
  });

  it("still reads the secret files on a cache hit, and names one that went missing", async () => {
    await loadConfig(file);
    rmSync(join(fx.dir, "token"));
    const err = await loadConfig(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      { path: "proxmox.tokenSecretFile", message: `${join(fx.dir, "token")} does not exist` },
    ]);
  });

  it("does not write the entry again on a hit", async () => {
    await loadConfig(file);
    const before = statSync(configCacheFile(file)).ino;
    await loadConfig(file);
    expect(statSync(configCacheFile(file)).ino).toBe(before);
  });
});
