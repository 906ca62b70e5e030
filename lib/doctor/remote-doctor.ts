import { z } from "zod";
import type { Config } from "../config/types.ts";
import { messageOf } from "../errors.ts";
import { run } from "../process/run.ts";
import { nodeKnownHosts, remoteArgv } from "../remote/apply.ts";
import { CHECK_NAMES, type CheckName } from "./types.ts";

// Runs `pvemigrate-dns doctor ... --json` on another node and reads its
// report back, validated. The way there is the config's transport: ssh in
// production (BatchMode, and the node's own known_hosts file as Proxmox's
// ssh uses it, lib/remote/apply.ts), the node's stand-in process in tests.
// Unlike runOnNode, a doctor that found problems (exit 1 or 2) still
// answered: its findings are the point.

const findingSchema = z.object({
  // A newer node may know checks this one does not: its findings still count, as "cluster" ones.
  check: z.string().transform((c): CheckName => CHECK_NAMES.find((n) => n === c) ?? "cluster"),
  status: z.enum(["ok", "warn", "fail"]),
  message: z.string(),
  hint: z.string().optional(),
});
const reportSchema = z.object({ findings: z.array(findingSchema), version: z.string().optional() });
/** The bare report, or the same inside the JSON envelope `{ ok, exitCode, data, ... }`. */
const answerSchema = z.union([reportSchema, z.object({ data: reportSchema }).transform((e) => e.data)]);

export type RemoteReport = z.infer<typeof reportSchema>;

export type RemoteDoctor =
  | { ok: true; report: RemoteReport }
  /** `unreachable`: ssh itself failed (exit 255: down, refused key, unknown host key). */
  | { ok: false; unreachable: boolean; why: string };

export async function runDoctorOn(
  config: Config,
  node: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<RemoteDoctor> {
  let argv: string[];
  try {
    const knownHostsFile = config.remote.transport === "ssh" ? await nodeKnownHosts(config, node) : undefined;
    argv = remoteArgv(config, node, ["doctor", ...args, "--json"], knownHostsFile ? { knownHostsFile } : {});
  } catch (err) {
    return { ok: false, unreachable: true, why: messageOf(err) };
  }
  const r = await run(argv, { timeoutMs }).catch((err: Error) => err);
  if (r instanceof Error) return { ok: false, unreachable: true, why: `${argv[0]}: ${r.message}` };
  let parsed: RemoteReport | undefined;
  try {
    const out = answerSchema.safeParse(JSON.parse(r.stdout));
    parsed = out.success ? out.data : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed) return { ok: true, report: parsed };
  const why = r.stderr.trim().split("\n").slice(-1)[0]?.slice(0, 300) || `exit ${r.code ?? r.signal}`;
  return { ok: false, unreachable: argv[0] === "ssh" && r.code === 255, why };
}
