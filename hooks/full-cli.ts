import { existsSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";

// Where the hookscript finds the full implementation (the CLI bundle) for
// what its small bundle leaves out: a config the cache does not hold yet (the
// first hook after a config change or a reboot), strict pre-start, and the
// worker. Both installers put the CLI in place with the hookscript; the
// hookscript itself is a copy in the snippets storage, so it looks in the
// places they use: next to itself (dist/, as built), the .deb's, install.sh's.

export const CLI_CANDIDATES = [
  "/usr/share/pvemigrate-dns/pvemigrate-dns.mjs",
  "/usr/local/lib/pvemigrate-dns/pvemigrate-dns.mjs",
];

/** The CLI bundle to hand a phase to, or undefined. `self` is this script's path (process.argv[1]). */
export function findCli(self: string, env: NodeJS.ProcessEnv): string | undefined {
  let real = self;
  try {
    real = realpathSync(self);
  } catch {}
  // In the snippets storage the hookscript itself is named pvemigrate-dns.mjs: never ourselves.
  const candidates = [env.PVEMIGRATE_DNS_CLI, join(dirname(real), "pvemigrate-dns.mjs"), ...CLI_CANDIDATES];
  for (const file of candidates) {
    if (!file || !existsSync(file)) continue;
    let target = file;
    try {
      target = realpathSync(file);
    } catch {}
    if (target !== real) return target;
  }
  return undefined;
}

/** Runs `<node> <cli> hook <args...>` with our stdio and environment; its exit code. */
export async function runFullHook(cli: string, args: string[]): Promise<number> {
  const { spawn } = await import("node:child_process");
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, "hook", ...args], { stdio: "inherit" });
    child.on("error", (err) => {
      process.stderr.write(`pvemigrate-dns: hook: cannot run ${cli}: ${err.message}; doing nothing\n`);
      resolve(0);
    });
    // Killed by a signal: never abort a start for our own trouble.
    child.on("close", (code) => resolve(code ?? 0));
  });
}
