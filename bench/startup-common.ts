import { spawn } from "node:child_process";
import { cpus } from "node:os";

// What the start-up benchmarks (hook-startup.ts, dns.ts) share: whole-process
// timing, paired rounds, medians, the machine line, and the environment they
// run children in. NODE_EXTRA_CA_CERTS is removed from it: when set, Node
// reads and parses that bundle at every start (~39 ms measured in issue 16),
// which would hide the differences measured here, in the baseline and ours alike.

/** The parent's environment without NODE_EXTRA_CA_CERTS (see above). */
export function benchEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _, ...rest } = process.env;
  return { ...rest, ...extra };
}

export const ENV_NOTE =
  "NODE_EXTRA_CA_CERTS unset for every child (it adds its own parse to each Node start)";

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export interface Timed {
  ms: number;
  code: number | null;
  stderr: string;
}

/** Wall time until the process exited and closed its output (Proxmox reads a hook's output until EOF). */
export function timedRun(argv: string[], env: NodeJS.ProcessEnv, input?: string): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(argv[0] as string, argv.slice(1), {
      env,
      stdio: [input === undefined ? "ignore" : "pipe", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    if (input !== undefined) child.stdin?.end(input);
    child.on("error", reject);
    child.on("close", (code) => resolve({ ms: performance.now() - t0, code, stderr }));
  });
}

/** Runs `cases` in interleaved rounds (first a warm-up round); every case's samples, round by round. */
export async function pairedRounds<K extends string>(
  rounds: number,
  cases: Record<K, () => Promise<number>>,
): Promise<Record<K, number[]>> {
  const names = Object.keys(cases) as K[];
  const samples = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (const n of names) await cases[n]();
  for (let i = 0; i < rounds; i++) for (const n of names) samples[n].push(await cases[n]());
  return samples;
}

/** Median over the rounds of (case - baseline) in the same round. */
export function pairedDelta(caseMs: number[], baselineMs: number[]): number {
  return median(caseMs.map((ms, i) => ms - (baselineMs[i] as number)));
}

export function machineLine(): string {
  const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
  return `machine: ${cpus().length} CPUs (nproc), ${cpu}, node ${process.version}`;
}
