import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DepartureStore } from "../../lib/state/departures.ts";
import { Journal } from "../../lib/state/journal.ts";
import { fileNameFor } from "../../lib/state/journal-item.ts";
import { localLocks } from "../../lib/state/local-lock.ts";
import { parseJson } from "../../lib/state/read.ts";

// A state file clobbered by something else may hold anything, a secret
// included: the warning about it names the file and what is wrong, and never
// quotes the content (Node 20's JSON.parse message quotes a snippet of it).

const SECRET = "c2VjcmV0LXRzaWcta2V5LWRvLW5vdC1sb2c";

let dir: string;
let warnings: string[];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), `pvemigrate-state-corrupt-${process.pid}-`));
  warnings = [];
});
afterEach(() => rm(dir, { recursive: true, force: true }));

// Each one a file whose content must not reach the log.
const contents: Array<[string, string]> = [
  ["a bare word Node quotes in its message", `{"v": 1, "secret": ${SECRET}}`],
  ["a torn write", `{"v":1,"id":"dns:vm:101","lastError":"${SECRET}`],
  ["a foreign format version", `{"v":"${SECRET}","id":"dns:vm:101"}`],
  [
    "an id that belongs in another file",
    JSON.stringify({
      v: 1,
      id: SECRET,
      kind: "dns",
      rev: "r",
      createdAt: "",
      updatedAt: "",
      attempts: 0,
      payload: 1,
    }),
  ],
];

describe("corrupt state files are reported without their content", () => {
  for (const [what, text] of contents) {
    it(`journal: ${what}`, async () => {
      const journal = new Journal({
        dir: join(dir, "journal"),
        lock: localLocks(join(dir, "locks")),
        warn: (m) => warnings.push(m),
      });
      await mkdir(join(dir, "journal"), { recursive: true });
      const file = fileNameFor("dns:vm:101");
      await writeFile(join(dir, "journal", file), text);
      expect(await journal.list()).toEqual([]);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`moved corrupt ${file} aside`);
      expect(warnings[0]).not.toContain(SECRET.slice(0, 8));
    });
  }

  it("departures: the file and the problem, no content", async () => {
    const store = new DepartureStore(dir, (m) => warnings.push(m));
    await writeFile(join(dir, "101.json"), `[{"vmid": 101, "node": ${SECRET}}]`);
    await writeFile(
      join(dir, "102.json"),
      JSON.stringify([{ vmid: 102, node: "pve1", ip: "10.10.1.2", leftAt: 1 }]),
    );
    expect((await store.list()).map((d) => d.vmid)).toEqual([102]);
    expect(warnings).toEqual([`departures ${join(dir, "101.json")}: not JSON (60 bytes); ignored`]);
  });

  it("parseJson says empty, cut short, or where, in words of its own", () => {
    expect(parseJson("  \n")).toEqual({ ok: false, problem: "not JSON (empty, 3 bytes)" });
    expect(parseJson('{"a":')).toEqual({ ok: false, problem: "not JSON (5 bytes, cut short)" });
    expect(parseJson('{"a": 1')).toEqual({
      ok: false,
      problem: "not JSON (7 bytes, invalid at character 7)",
    });
    expect(parseJson(`{"a": ${SECRET}}`)).toMatchObject({
      ok: false,
      problem: expect.not.stringContaining("c2Vj"),
    });
    expect(parseJson('{"a": 1}')).toEqual({ ok: true, value: { a: 1 } });
  });
});
