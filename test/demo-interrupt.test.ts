import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { deleteNamespaces } from "../lib/demo/cleanup.ts";
import { run } from "../lib/process/run.ts";
import { missing } from "./support/requirements.ts";

// `pvemigrate-dns demo` as a whole process, stopped half-way the ways a user
// stops it: Ctrl-C (SIGINT) and a reader that goes away (`demo | head -1`,
// EPIPE on stdout). Either way nothing of it may remain: no network namespace
// with its prefix (as root), no temp dir, no named child.

const root = join(import.meta.dirname, "..");
const asRoot = process.getuid?.() === 0 && !missing({ bins: ["nft", "ip"] });

let tmp: string;
let child: ChildProcess | undefined;

/** Processes whose command line mentions `text` (the demo's named runs with a config inside its temp dir). */
function processesMentioning(text: string): number[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(text);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function namespaces(prefix: string): Promise<string[]> {
  const r = await run(["ip", "netns", "list"]);
  return r.stdout
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(prefix));
}

/** Starts the demo with its temp dirs under a dir of this test; resolves once it printed `lines` lines. */
async function startDemo(lines: number): Promise<{ child: ChildProcess; exited: Promise<number | string> }> {
  const proc = spawn(process.execPath, ["--import", "tsx", join(root, "bin", "pvemigrate-dns.ts"), "demo"], {
    cwd: root,
    env: { ...process.env, TMPDIR: tmp },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child = proc;
  const exited = new Promise<number | string>((resolve) =>
    proc.once("exit", (code, signal) => resolve(code ?? signal ?? "?")),
  );
  let seen = "";
  await new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => {
      seen += b.toString("utf8");
      if (seen.split("\n").length > lines) {
        proc.stdout?.off("data", onData);
        resolve();
      }
    };
    proc.stdout?.on("data", onData);
    void exited.then((code) => reject(new Error(`demo exited (${code}) before ${lines} lines: ${seen}`)));
  });
  return { child: proc, exited };
}

/** What the demo holds while it runs: its temp dir, its named, and (as root) its namespaces. */
async function held(pid: number) {
  return {
    tempDirs: readdirSync(tmp).filter((n) => n.startsWith("pvemigrate-demo-")),
    named: processesMentioning(tmp).filter((p) => p !== pid),
    namespaces: asRoot ? await namespaces(`pvmdemo${pid}-`) : [],
  };
}

describe.skipIf(missing({ bins: ["named"] }))("the demo cleans up when interrupted", () => {
  afterEach(async () => {
    // Whatever a failing run left: never let it outlive the test.
    if (child?.pid) {
      child.kill("SIGKILL");
      for (const p of processesMentioning(tmp)) process.kill(p, "SIGKILL");
      if (asRoot) await deleteNamespaces(`pvmdemo${child.pid}-`);
    }
    child = undefined;
    rmSync(tmp, { recursive: true, force: true });
  });

  for (const [how, stopIt, expectedCode] of [
    ["Ctrl-C (SIGINT)", (c: ChildProcess) => c.kill("SIGINT"), 130],
    ["a closed stdout (EPIPE, as `demo | head -1`)", (c: ChildProcess) => c.stdout?.destroy(), 141],
  ] as const) {
    it(`${how}: no namespace, temp dir or named remains; exit ${expectedCode}`, async () => {
      tmp = mkdtempSync(join(tmpdir(), "pvemigrate-demo-int-"));
      const { child: demo, exited } = await startDemo(3);
      const pid = demo.pid ?? 0;
      const during = await held(pid);
      expect(during.tempDirs).toHaveLength(1);
      expect(during.named.length).toBeGreaterThan(0);
      if (asRoot) expect(during.namespaces).toHaveLength(3);

      stopIt(demo);
      const code = await exited;
      expect(await held(pid)).toEqual({ tempDirs: [], named: [], namespaces: [] });
      expect(code).toBe(expectedCode);
    }, 60_000);
  }
});
