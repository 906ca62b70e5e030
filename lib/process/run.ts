import { spawn } from "node:child_process";

// The one way this project runs other programs: an argument array (never a
// shell string) and input fed on stdin, so no value from a config or the
// command line is ever interpreted by a shell.

export interface RunOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Proxmox's run_command way (pve-common Cmd.pm): stdin /dev/null, stdout and
   * stderr this process's own (a chained hookscript's lines reach the task log);
   * `input` is ignored and the result's output is empty.
   */
  passthrough?: boolean;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class RunError extends Error {
  override name = "RunError";
  constructor(
    readonly argv: readonly string[],
    readonly result: RunResult,
  ) {
    const detail =
      result.stderr.trim().split("\n").slice(-3).join(" | ") || `exit ${result.code ?? result.signal}`;
    super(`${argv[0]} failed: ${detail}`);
  }
}

/** Runs argv[0] with argv[1..]; resolves with its output whatever the exit status. */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (!cmd) return Promise.reject(new Error("run: empty argv"));
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: opts.passthrough ? ["ignore", "inherit", "inherit"] : ["pipe", "pipe", "pipe"],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      timeout: opts.timeoutMs,
      killSignal: "SIGKILL",
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (b: Buffer) => out.push(b));
    child.stderr?.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code, signal) =>
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      }),
    );
    // A child that exits before reading stdin raises EPIPE here; its exit status tells the story.
    child.stdin?.on("error", () => {});
    child.stdin?.end(opts.input ?? "");
  });
}

/** Like run(), but a non-zero exit becomes a RunError. */
export async function runChecked(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const result = await run(argv, opts);
  if (result.code !== 0) throw new RunError(argv, result);
  return result;
}

/**
 * How an adapter runs a program on "its" node. Production: the local node
 * (runLocal). Tests: inside a network namespace they created (netnsExec), so the
 * real nft/haproxy code runs unchanged against a namespace that stands for a node.
 */
export type Exec = (argv: readonly string[], opts?: RunOptions) => Promise<RunResult>;

export const runLocal: Exec = (argv, opts) => run(argv, opts);

export function netnsExec(namespace: string): Exec {
  return (argv, opts) => run(["ip", "netns", "exec", namespace, ...argv], opts);
}
