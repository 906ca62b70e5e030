import type { NatConfig } from "../config/types.ts";
import { messageOf } from "../errors.ts";
import type { Exec } from "../process/run.ts";
import { type Finding, fail, ok, warn } from "./types.ts";

// The nft binary and our table, read the way the backend reads it.

const NFT_TIMEOUT_MS = 10_000;

export async function checkNft(nat: NatConfig, exec: Exec): Promise<Finding[]> {
  if (nat.backend === "none") return [ok("nft", "nat.backend is none: forwards are not managed here")];
  const argv = ["nft", "list", "table", "ip", nat.table];
  let r: Awaited<ReturnType<Exec>>;
  try {
    r = await exec(argv, { timeoutMs: NFT_TIMEOUT_MS });
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    return [
      fail(
        "nft",
        missing ? "nft is not installed (or not in PATH)" : `nft could not be run: ${messageOf(err)}`,
        "apt install nftables",
      ),
    ];
  }
  if (r.code === 0) {
    return [ok("nft", `table ip ${nat.table} is present`)];
  }
  const stderr = r.stderr.trim().split("\n").slice(0, 2).join(" | ");
  if (/No such file or directory/.test(r.stderr)) {
    return [
      warn(
        "nft",
        `table ip ${nat.table} does not exist: no forwards are in place on this node`,
        "run `pvemigrate-dns reconcile` (the timer does it every minute)",
      ),
    ];
  }
  if (/Operation not permitted|Permission denied/.test(r.stderr)) {
    return [fail("nft", `${argv.join(" ")}: ${stderr}`, "run doctor as root")];
  }
  return [fail("nft", `${argv.join(" ")}: ${stderr || `exit ${r.code}`}`, "check nftables on this node")];
}
