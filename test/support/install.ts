import { spawnSync } from "node:child_process";
import { join } from "node:path";

// packaging/install.sh below a temp DESTDIR, as an admin runs it on a node:
// tests that need "the installed hookscript" get the real thing.

const installer = join(import.meta.dirname, "..", "..", "packaging", "install.sh");

export function installBelow(
  destdir: string,
  dist: string,
  env: Record<string, string | undefined> = {},
): string {
  const r = spawnSync(installer, ["--no-enable"], {
    encoding: "utf8",
    env: { ...process.env, NODE: process.execPath, DESTDIR: destdir, DIST: dist, ...env },
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`install.sh failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export function uninstallBelow(destdir: string): string {
  const r = spawnSync(installer, ["--uninstall"], {
    encoding: "utf8",
    env: { ...process.env, DESTDIR: destdir },
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`install.sh --uninstall failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
