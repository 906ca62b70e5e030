import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";

// Tests that need root or a binary that is not installed skip, and say so
// loudly: a developer run without bind9 or root must not look like a pass of
// the real-daemon tests. `.ci/run` installs everything and runs as root, so CI
// sets PVEMIGRATE_REQUIRE_ALL=1 and a missing requirement fails there instead.

const announced = new Set<string>();

function which(bin: string): boolean {
  for (const dir of ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin", "/usr/local/sbin"]) {
    try {
      execFileSync("test", ["-x", `${dir}/${bin}`]);
      return true;
    } catch {}
  }
  return false;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Returns the reason the requirements are not met, or undefined when they are. */
export function missing(opts: {
  root?: boolean;
  bins?: string[];
  /** Executables outside PATH, by path, each with the reason shown when it is absent. */
  executables?: Array<{ path: string; reason: string }>;
}): string | undefined {
  const reasons: string[] = [];
  if (opts.root && process.getuid?.() !== 0) reasons.push("root");
  for (const bin of opts.bins ?? []) if (!which(bin)) reasons.push(bin);
  for (const e of opts.executables ?? []) if (!isExecutable(e.path)) reasons.push(e.reason);
  if (reasons.length === 0) return undefined;
  const reason = `needs ${reasons.join(", ")}`;
  if (process.env.PVEMIGRATE_REQUIRE_ALL === "1") {
    throw new Error(`PVEMIGRATE_REQUIRE_ALL=1 but this test ${reason}: .ci/run should have installed it`);
  }
  if (!announced.has(reason)) {
    announced.add(reason);
    process.stderr.write(
      `\n*** SKIPPING tests that ${reason} (install the Debian packages .ci/run installs, run as root) ***\n\n`,
    );
  }
  return reason;
}
