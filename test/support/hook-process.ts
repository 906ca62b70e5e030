import { spawn } from "node:child_process";

// A hookscript run the way Proxmox runs one (pve-guest-common
// src/PVE/GuestHelpers.pm exec_hookscript: PVE::Tools::run_command([$hookscript,
// $vmid, $phase]), no shell, output read until EOF): its exit code, output and
// how long it took. Shared by the hook e2e and the Node 18 runs.

export interface HookRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs `file args` with this process's environment less what a hook run must
 * not inherit, plus `env`; spawned without a shell, output collected (the sim
 * answers from this process, so never block it). Killed after 30 s.
 */
export function runHookProcess(file: string, args: string[], env: Record<string, string>): Promise<HookRun> {
  const clean = { ...process.env };
  for (const k of ["PVE_MIGRATED_FROM", "PVEMIGRATE_DNS_CONFIG", "PVEMIGRATE_DNS_NODE"]) delete clean[k];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(file, args, { env: { ...clean, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const kill = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", (err) => {
      clearTimeout(kill);
      reject(err);
    });
    // "close", not "exit": Proxmox reads the hook's output until EOF.
    child.on("close", (code) => {
      clearTimeout(kill);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}
