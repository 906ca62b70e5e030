import { lstat } from "node:fs/promises";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import type { NatConfig } from "../config/types.ts";
import { errnoCode, messageOf } from "../errors.ts";
import { type Exec, type RunResult, run } from "../process/run.ts";
import { type Finding, fail, ok, warn } from "./types.ts";

// Three facts about one node that differ from node to node: whether the
// kernel forwards IPv4 (DNAT to a VM and the grace path over the mesh are
// forwarded packets), whether the reconcile timer runs (offline and HA
// moves run no hook: only the timer follows them), and which version of
// us is installed (doctor --cluster compares them).

export const VERSION: string = pkg.version;
export const TIMER = "pvemigrate-dns-reconcile.timer";
/** packaging/cron/pvemigrate-dns: the alternative to the timer (install.sh --cron). */
export const CRON_FILE = join("etc", "cron.d", "pvemigrate-dns");

/** PURE: `sysctl -n net.ipv4.ip_forward`'s output. */
export function judgeIpForward(value: string): Finding {
  const v = value.trim();
  if (v === "1") return ok("ip-forward", "net.ipv4.ip_forward = 1");
  return fail(
    "ip-forward",
    `net.ipv4.ip_forward = ${v || "(nothing)"}: the kernel drops the forwarded packets our DNAT rules make`,
    "sysctl -w net.ipv4.ip_forward=1, and keep it: echo net.ipv4.ip_forward=1 > /etc/sysctl.d/90-pvemigrate-dns.conf",
  );
}

/** Runs sysctl through `exec` (this node, or its network namespace in tests); only when we DNAT. */
export async function checkIpForward(nat: NatConfig, exec: Exec): Promise<Finding[]> {
  if (nat.backend === "none") return [];
  let r: RunResult;
  try {
    r = await exec(["sysctl", "-n", "net.ipv4.ip_forward"]);
  } catch (err) {
    return [
      warn("ip-forward", `cannot read net.ipv4.ip_forward: ${messageOf(err)}`, "sysctl net.ipv4.ip_forward"),
    ];
  }
  if (r.code !== 0)
    return [
      warn(
        "ip-forward",
        `sysctl net.ipv4.ip_forward failed: ${r.stderr.trim().slice(0, 200)}`,
        "run it by hand",
      ),
    ];
  return [judgeIpForward(r.stdout)];
}

/** PURE: `systemctl is-enabled` of the timer (its first line; "" when systemctl is missing) and the cron file. */
export function judgeTimer(state: string, cronInstalled: boolean): Finding {
  if (cronInstalled) return ok("timer", `reconcile runs from /${CRON_FILE}`);
  if (state === "enabled" || state === "enabled-runtime" || state === "static")
    return ok("timer", `${TIMER} is ${state}`);
  return warn(
    "timer",
    `${TIMER} is ${state || "unknown (no systemctl)"}: moves without a hook run (offline migration, HA recovery, a guest without our hookscript) are never followed`,
    state === "not-found" || state === ""
      ? "install it: packaging/install.sh (or the .deb), then systemctl enable --now pvemigrate-dns-reconcile.timer"
      : "systemctl enable --now pvemigrate-dns-reconcile.timer",
  );
}

/** `rootDir` is "/" on a node (the live systemctl), a temp dir in tests (`systemctl --root`). */
export async function checkTimer(rootDir: string): Promise<Finding[]> {
  const cron = await lstat(join(rootDir, CRON_FILE)).then(
    () => true,
    () => false,
  );
  const rootArgs = rootDir === "/" ? [] : [`--root=${rootDir}`];
  let state: string;
  try {
    const r = await run(["systemctl", ...rootArgs, "is-enabled", TIMER], { timeoutMs: 10_000 });
    // systemctl prints nothing for a unit it cannot find (the reason goes to stderr).
    state = r.stdout.trim().split("\n")[0] || "not-found";
  } catch (err) {
    if (errnoCode(err) !== "ENOENT")
      return [warn("timer", `systemctl is-enabled ${TIMER}: ${messageOf(err)}`, "run it by hand")];
    state = "";
  }
  return [judgeTimer(state, cron)];
}

export const versionFinding = (): Finding => ok("version", `pvemigrate-dns ${VERSION}`);
