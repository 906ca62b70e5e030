import { open, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { configPath } from "../config/path.ts";
import type { Config } from "../config/types.ts";
import { errnoCode, messageOf } from "../errors.ts";
import { localNodeName } from "../node-name.ts";
import { run } from "../process/run.ts";
import {
  HOOK_FILE,
  type HookFileProbe,
  judgeHookFile,
  NOOP_MARKER,
  PROBE_TIMEOUT_MS,
  probeEnv,
  unmanagedVmid,
} from "./hook-file.ts";
import { runDoctorOn } from "./remote-doctor.ts";
import { type Finding, fail, warn } from "./types.ts";

// The hookscript file on every node: present, executable, and starting when
// run exactly the way Proxmox runs it (`<file> <vmid> pre-start`, PATH and
// LC_ALL only, empty stdin), for a VMID the config does not manage, so the
// hook returns without touching anything. This node directly; every other
// node by running `pvemigrate-dns doctor --hookscript-file` there over the
// configured transport (ssh), because the snippets directory is per node.

/** The first bytes of the file: its #! line, and whether it is the uninstall no-op. */
async function head(file: string): Promise<string> {
  const fh = await open(file, "r");
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString("utf8");
  } finally {
    await fh.close();
  }
}

export async function probeHookFile(
  file: string,
  env: Record<string, string>,
  vmid: number,
): Promise<HookFileProbe> {
  let text: string;
  try {
    const st = await stat(file);
    if (!st.isFile()) return { kind: "not-a-file" };
    // check_hookscript's `-x $path` as root: true when any execute bit is set.
    if ((st.mode & 0o111) === 0) return { kind: "not-executable", mode: st.mode & 0o7777 };
    text = await head(file);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return { kind: "missing" };
    return { kind: "unreadable", error: messageOf(err) };
  }
  const firstLine = text.split("\n", 1)[0] ?? "";
  try {
    const r = await run([file, String(vmid), "pre-start"], {
      env,
      input: "",
      cwd: "/",
      timeoutMs: PROBE_TIMEOUT_MS,
    });
    const noop = text.includes(NOOP_MARKER);
    return { kind: "ran", firstLine, code: r.code, signal: r.signal, stderr: r.stderr, vmid, noop };
  } catch (err) {
    return { kind: "spawn-error", error: errnoCode(err) ?? messageOf(err), firstLine };
  }
}

/** This node's hookscript file, under `rootDir` ("/" on a node). */
export async function checkHookFileHere(config: Config, node: string, rootDir: string): Promise<Finding> {
  const env = probeEnv(
    { configPath: resolve(config.source), node, cacheDir: process.env.PVEMIGRATE_DNS_CACHE_DIR },
    { configPath: configPath(undefined, {}), node: localNodeName({}) },
  );
  const file = join(rootDir, HOOK_FILE);
  return judgeHookFile(node, file, await probeHookFile(file, env, unmanagedVmid(config.vms)));
}

/** Another node's hookscript file, checked there by its own CLI. */
export async function checkHookFileOn(config: Config, node: string, rootDir: string): Promise<Finding[]> {
  const cannot = (why: string) =>
    warn(
      "hookscript-file",
      `${node}: cannot check its hookscript file from here: ${why}`,
      `run pvemigrate-dns doctor on ${node}`,
    );
  const r = await runDoctorOn(
    config,
    node,
    ["--hookscript-file", "--root", rootDir],
    PROBE_TIMEOUT_MS + 30_000,
  );
  // ssh's own failures (unreachable, refused key) are exit 255: the node may just be down.
  if (!r.ok && r.unreachable) return [cannot(r.why)];
  if (!r.ok) {
    return [
      fail(
        "hookscript-file",
        `${node}: pvemigrate-dns doctor --hookscript-file did not run there (${r.why})`,
        `run packaging/install.sh on ${node}`,
      ),
    ];
  }
  const files = r.report.findings.filter((f) => f.check === "hookscript-file");
  if (files.length > 0) {
    return files.map((f) => ({
      check: "hookscript-file" as const,
      status: f.status,
      message: f.message,
      ...(f.hint ? { hint: f.hint } : {}),
    }));
  }
  const failed = r.report.findings.find((f) => f.status === "fail");
  return [cannot(failed ? failed.message : "its doctor reported nothing about the file")];
}

/** The hookscript file on each of `nodes` (this node directly, the others through their CLI), in that order. */
export async function checkHookFiles(
  config: Config,
  self: string,
  rootDir: string,
  nodes: readonly string[],
): Promise<Finding[]> {
  const perNode = await Promise.all(
    nodes.map((n) =>
      n === self
        ? checkHookFileHere(config, n, rootDir).then((f) => [f])
        : checkHookFileOn(config, n, rootDir),
    ),
  );
  return perNode.flat();
}
