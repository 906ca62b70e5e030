import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readConfigCache, writeConfigCache } from "../../lib/config/cache.ts";
import { loadConfig } from "../../lib/config/load.ts";
import type { Config } from "../../lib/config/types.ts";
import { missing } from "../support/requirements.ts";
import { baseDoc, type Fixture, makeFixture, TOKEN_SECRET, TSIG_SECRET } from "./fixture.ts";

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

  it("ignores an entry an older version wrote (a Config without reservedPorts)", async () => {
    const text = readFileSync(file, "utf8");
    await writeConfigCache(config, text, dir);
    const entry = join(dir, (await import("node:fs")).readdirSync(dir).find((n) => n.endsWith(".json"))!);
    const { format: _, ...old } = JSON.parse(readFileSync(entry, "utf8"));
    delete old.config.reservedPorts;
    writeFileSync(entry, JSON.stringify(old), { mode: 0o600 });
    expect(await readConfigCache(file, text, dir)).toBeUndefined();
  });
});
