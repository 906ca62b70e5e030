import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isoUtc } from "../lib/iso-utc.ts";
import { missing } from "./support/requirements.ts";

// lib/iso-utc.ts: Date#toISOString's text, without V8 loading the local time zone.

describe("isoUtc", () => {
  it("writes the same text as Date#toISOString, from the epoch to year 9999, and throws on an invalid time as it does", () => {
    const samples = [0, 1, 999, 1000, 59_999, 951_782_400_000, 1_764_784_063_112, 253_402_300_799_999, -1];
    let x = 123_456_789;
    for (let i = 0; i < 2000; i++) {
      x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
      samples.push(Math.floor((x / 2 ** 31) * 4_102_444_800_000));
    }
    for (const ms of samples) expect(isoUtc(ms), String(ms)).toBe(new Date(ms).toISOString());
    expect(() => isoUtc(Number.NaN)).toThrow(RangeError);
  });

  it.skipIf(missing({ bins: ["strace"] }))(
    "does not make Node read /etc/localtime (Date#toISOString does)",
    () => {
      const opened = (code: string) =>
        spawnSync("strace", ["-f", "-e", "trace=openat", process.execPath, "--import", "tsx", "-e", code], {
          cwd: join(import.meta.dirname, ".."),
          encoding: "utf8",
        }).stderr;
      const ours = opened('import("./lib/iso-utc.ts").then((m) => m.isoUtc(Date.now()))');
      const theirs = opened("new Date(Date.now()).toISOString()");
      expect(theirs).toContain("/etc/localtime");
      expect(ours).toMatch(/openat/);
      expect(ours).not.toContain("/etc/localtime");
    },
  );
});
