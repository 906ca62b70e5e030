import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { errorText, migrate } from "../../lib/cluster/migrate.ts";
import type { MigrateProgress } from "../../lib/cluster/types.ts";
import { simClient } from "./helpers.ts";

// A migration task's failure reason reaches the user from Proxmox's real log
// lines: `2026-12-03 10:00:00 ERROR: ...` (pve-guest-common AbstractMigrate
// $msg2text), and an empty log read back as `[{n: 1, t: "no content"}]`
// (pve-common PVE::Tools::dump_logfile), which is not a line of the log.

const A = "https://127.0.0.1:8006";
const JSON_CT = { "content-type": "application/json;charset=UTF-8" };
const UPID = "UPID:pve1:00001F40:000F4628:6930000A:qmigrate:101:root@pam!pvemigrate:";
const base = `/api2/json/nodes/pve1/tasks/${encodeURIComponent(UPID)}`;

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());
afterAll(() => nock.enableNetConnect());

describe("migration task log (nock)", () => {
  it("errorText strips the timestamps, drops AbstractMigrate's closing repetition, keeps each reason once", () => {
    expect(
      errorText("migration aborted", [
        "2026-12-03 10:00:00 starting migration of VM 101 to node 'pve2' (10.10.0.2)",
        "2026-12-03 10:00:01 ERROR: Can't connect to destination address using public key",
        "2026-12-03 10:00:01 ERROR: migration aborted (duration 00:00:01): Can't connect to destination address using public key",
        "TASK ERROR: migration aborted",
      ]),
    ).toBe("migration aborted: Can't connect to destination address using public key");
    expect(
      errorText("migration problems", [
        "2026-12-03 10:00:09 ERROR: removing local copy of 'local-lvm:vm-101-disk-0' failed - lvremove failed",
        "2026-12-03 10:00:09 ERROR: migration finished with problems (duration 00:00:09)",
      ]),
    ).toBe("migration problems: removing local copy of 'local-lvm:vm-101-disk-0' failed - lvremove failed");
    expect(errorText("migration aborted", [])).toBe("migration aborted");
  });

  it("a log that was empty at the first poll (`no content`) loses no line: the reason from its first line reaches the user", async () => {
    nock(A).post("/api2/json/nodes/pve1/qemu/101/migrate").reply(200, { data: UPID }, JSON_CT);
    nock(A)
      .get(`${base}/status`)
      .reply(200, { data: { status: "running", upid: UPID } }, JSON_CT);
    nock(A)
      .get(`${base}/log`)
      .query({ start: "0", limit: "500" })
      .reply(200, { data: [{ n: 1, t: "no content" }] }, JSON_CT);
    nock(A)
      .get(`${base}/status`)
      .reply(200, { data: { status: "stopped", exitstatus: "migration aborted", upid: UPID } }, JSON_CT);
    const lines = [
      "2026-12-03 10:00:01 ERROR: Can't connect to destination address using public key",
      "2026-12-03 10:00:01 ERROR: migration aborted (duration 00:00:01): Can't connect to destination address using public key",
      "TASK ERROR: migration aborted",
    ];
    // dump_logfile numbers lines from 1 and skips `start` of them.
    nock(A)
      .get(`${base}/log`)
      .query({ start: "0", limit: "500" })
      .reply(200, { data: lines.map((t, i) => ({ n: i + 1, t })) }, JSON_CT);
    nock(A)
      .get(`${base}/log`)
      .query({ start: "1", limit: "500" })
      .reply(200, { data: lines.slice(1).map((t, i) => ({ n: i + 2, t })) }, JSON_CT);
    const progress: MigrateProgress[] = [];
    const r = await migrate(
      simClient([A]),
      { vmid: 101, from: "pve1", to: "pve2", online: true },
      (p) => progress.push(p),
      { pollMs: 1 },
    );
    expect(r).toMatchObject({ ok: false, exitstatus: "migration aborted" });
    expect(r.error).toBe("migration aborted: Can't connect to destination address using public key");
    const logged = progress.filter((p) => p.kind === "log").map((p) => (p as { line: string }).line);
    expect(logged).not.toContain("no content");
    expect(logged[0]).toBe(lines[0]);
  });
});
