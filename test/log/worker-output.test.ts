import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  boundLogFile,
  JOURNAL_STDOUT_SOCKET,
  journalAvailable,
  workerLaunch,
} from "../../lib/log/worker-output.ts";
import { missing } from "../support/requirements.ts";

const root = join(import.meta.dirname, "..", "..");
const work = mkdtempSync(join(tmpdir(), "pvemigrate-worker-output-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const worker = {
  argv: ["/usr/bin/node", "/var/lib/vz/snippets/pvemigrate-dns.mjs", "101", "__worker", "post-start"],
  env: { PVEMIGRATE_DNS_NODE: "pve1" },
};

describe("where the hook's worker writes (lib/log/worker-output.ts)", () => {
  it("with a journal: through systemd-cat as an argument array, tagged, level prefixes on, told its stderr is the journal", () => {
    const l = workerLaunch(worker, { journal: true, logFile: "/var/lib/pvemigrate-dns/worker.log" });
    expect(l.file).toBe("/usr/bin/systemd-cat");
    expect(l.args).toEqual([
      "--identifier=pvemigrate-dns",
      "--level-prefix=true",
      "--",
      "/usr/bin/node",
      "/var/lib/vz/snippets/pvemigrate-dns.mjs",
      "101",
      "__worker",
      "post-start",
    ]);
    expect(l.env).toEqual({ PVEMIGRATE_DNS_NODE: "pve1", PVEMIGRATE_DNS_STDERR_JOURNAL: "1" });
    expect(l.logFile).toBeUndefined();
  });

  it("without a journal: the worker itself, appending to worker.log, not told anything about a journal", () => {
    const l = workerLaunch(worker, { journal: false, logFile: "/var/lib/pvemigrate-dns/worker.log" });
    expect([l.file, ...l.args]).toEqual(worker.argv);
    expect(l.env).toEqual(worker.env);
    expect(l.logFile).toBe("/var/lib/pvemigrate-dns/worker.log");
  });

  it("worker.log over its bound becomes worker.log.1 (logrotate's name), replacing the older one; a small one stays", () => {
    const log = join(work, "worker.log");
    expect(boundLogFile(log, 10)).toBe(false); // absent: nothing to do
    writeFileSync(log, "0123456789");
    expect(boundLogFile(log, 10)).toBe(false);
    expect(readFileSync(log, "utf8")).toBe("0123456789");
    writeFileSync(`${log}.1`, "older");
    writeFileSync(log, "0123456789+");
    expect(boundLogFile(log, 10)).toBe(true);
    expect(() => statSync(log)).toThrow();
    expect(readFileSync(`${log}.1`, "utf8")).toBe("0123456789+");
  });
});

// The real systemd-cat against a stand-in journald (socat on the stream socket),
// in a private mount namespace so the host's /run/systemd is never touched.
describe.skipIf(missing({ root: true, bins: ["unshare", "socat", "systemd-cat"] }))(
  "the worker under the real systemd-cat",
  () => {
    it("connects to the journal's stream socket as pvemigrate-dns with level prefixes, and the worker writes <N> lines", () => {
      const out = join(work, "journal-stream.bin");
      const launch = workerLaunch(
        {
          argv: [
            process.execPath,
            "--import",
            "tsx",
            // The detached worker is the CLI's `hook` command (lib/orchestrate/hook-handoff.ts).
            join(root, "bin/pvemigrate-dns.ts"),
            "hook",
            "101",
            "__worker",
            "post-start",
          ],
          // No config: the worker says so at warning level and does nothing.
          env: { ...process.env, PVEMIGRATE_DNS_CONFIG: join(work, "absent.yaml"), JOURNAL_STREAM: "" },
        },
        { journal: true, logFile: join(work, "unused.log") },
      );
      const script = [
        "set -e",
        "mount -t tmpfs tmpfs /run/systemd 2>/dev/null || { mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd; }",
        "mkdir -p /run/systemd/journal",
        `socat -u UNIX-LISTEN:${JOURNAL_STDOUT_SOCKET} OPEN:"$OUT",creat &`,
        `while [ ! -S ${JOURNAL_STDOUT_SOCKET} ]; do sleep 0.05; done`,
        '"$@"',
        "wait",
      ].join("\n");
      const r = spawnSync(
        "unshare",
        ["--mount", "--propagation", "private", "sh", "-c", script, "sh", launch.file, ...launch.args],
        { cwd: root, env: { ...launch.env, OUT: out }, encoding: "utf8", timeout: 20_000 },
      );
      expect(r.status, r.stderr).toBe(0);
      const text = readFileSync(out, "utf8");
      // sd_journal_stream_fd's header: identifier, unit id, priority, level prefix, syslog, kmsg, console.
      expect(text.split("\n").slice(0, 7)).toEqual(["pvemigrate-dns", "", "6", "1", "0", "0", "0"]);
      const lines = text.split("\n").slice(7).filter(Boolean);
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(line).toMatch(/^<[3-7]>/);
      expect(
        lines.some((l) => l.startsWith("<4>hook __worker VM 101: ") && l.endsWith("doing nothing")),
      ).toBe(true);
    });
  },
);

describe("journalAvailable", () => {
  it("needs the journal's stream socket and systemd-cat, and yields to PVEMIGRATE_DNS_WORKER_LOG=file", () => {
    const socket = join(work, "stdout-socket");
    writeFileSync(socket, "");
    expect(journalAvailable({}, socket, process.execPath)).toBe(true);
    expect(journalAvailable({ PVEMIGRATE_DNS_WORKER_LOG: "file" }, socket, process.execPath)).toBe(false);
    expect(journalAvailable({}, join(work, "no-socket"), process.execPath)).toBe(false);
    expect(journalAvailable({}, socket, join(work, "no-systemd-cat"))).toBe(false);
  });
});
