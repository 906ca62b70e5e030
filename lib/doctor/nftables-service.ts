import { lstat, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { NatConfig } from "../config/types.ts";
import { type Finding, ok, warn } from "./types.ts";

// Debian's nftables.service loads /etc/nftables.conf, which starts with
// `flush ruleset`: every restart (or boot, or `nft -f /etc/nftables.conf`)
// wipes our table along with everything else, and forwards stay gone until
// the next reconcile. We cannot fix the admin's file; we can say so.

const WANTS = ["sysinit.target.wants", "multi-user.target.wants"];

/** Pure: whether the file's first statement is `flush ruleset` (comments and blank lines skipped). */
export function startsWithFlushRuleset(text: string): boolean {
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") continue;
    return /^flush\s+ruleset\s*;?$/.test(line);
  }
  return false;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/** `rootDir` is "/" on a node, a temp dir in tests. */
export async function checkNftablesService(nat: NatConfig, rootDir: string): Promise<Finding[]> {
  if (nat.backend !== "nftables") return [];
  const confPath = join(rootDir, "etc", "nftables.conf");
  const text = await readFile(confPath, "utf8").catch(() => undefined);
  if (text === undefined) return [ok("nftables.service", "no /etc/nftables.conf: nothing flushes our table")];
  if (!startsWithFlushRuleset(text))
    return [ok("nftables.service", "/etc/nftables.conf does not start with `flush ruleset`")];
  const enabledBy: string[] = [];
  for (const wants of WANTS) {
    if (await exists(join(rootDir, "etc", "systemd", "system", wants, "nftables.service")))
      enabledBy.push(wants);
  }
  if (enabledBy.length === 0) {
    return [
      ok(
        "nftables.service",
        "/etc/nftables.conf starts with `flush ruleset` but nftables.service is not enabled (loading it by hand would wipe our table)",
      ),
    ];
  }
  return [
    warn(
      "nftables.service",
      `nftables.service is enabled (${enabledBy.join(", ")}) and /etc/nftables.conf starts with \`flush ruleset\`: a restart of nftables.service wipes table ip ${nat.table} until the next reconcile`,
      "replace `flush ruleset` with per-table `table inet filter; delete table inet filter` lines, or run `pvemigrate-dns reconcile` after every nftables restart",
    ),
  ];
}
