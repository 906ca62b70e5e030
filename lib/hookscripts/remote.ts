import { z } from "zod";
import { unwrapEnvelope } from "../envelope.ts";
import { messageOf } from "../errors.ts";
import type { Runtime } from "../orchestrate/runtime.ts";
import { run } from "../process/run.ts";
import { nodeKnownHosts, remoteArgv } from "../remote/apply.ts";

// `qm set`/`pct set` only work on the node that holds the guest: the CLI does
// not proxy (pve-common CLIHandler runs the API handler in-process, with
// `node` set to the local node name by qemu-server CLI/qm.pm and
// pve-container CLI/pct.pm), and update_vm reads the config from
// `nodes/<local node>/...` (pve-guest-common AbstractConfig.pm `load_config`:
// "Configuration file '...' does not exist" for a guest elsewhere). Likewise a
// snippets file is per node. So for a guest on another node we run our own
// CLI there, `pvemigrate-dns hooks <action> <vmid>... --local --json`, over
// the configured transport (ssh as root, like `apply --local`), and take its
// per-guest results.

/** The per-guest entries another node's `hooks ... --json` printed, parsed with `schema`. */
export async function hooksOn<T>(
  rt: Runtime,
  node: string,
  args: readonly string[],
  schema: z.ZodType<T>,
): Promise<{ guests: T[] } | { error: string }> {
  let argv: string[];
  try {
    const knownHostsFile =
      rt.config.remote.transport === "ssh" ? await nodeKnownHosts(rt.config, node) : undefined;
    argv = remoteArgv(rt.config, node, ["hooks", ...args, "--local", "--json"], {
      ...(knownHostsFile ? { knownHostsFile } : {}),
    });
  } catch (err) {
    return { error: messageOf(err) };
  }
  const r = await run(argv, { timeoutMs: 120_000 }).catch((err: Error) => err);
  if (r instanceof Error) return { error: `cannot run ${argv[0]}: ${r.message}` };
  // Its exit code says whether something failed; the JSON says what, per guest.
  const parsed = z.object({ guests: z.array(schema) }).safeParse(safeJson(r.stdout));
  if (parsed.success) return { guests: parsed.data.guests };
  const why = r.stderr.trim().split("\n").slice(-2).join(" | ").slice(0, 400);
  return { error: why || `exit ${r.code ?? r.signal}, no result printed` };
}

function safeJson(text: string): unknown {
  try {
    return unwrapEnvelope(JSON.parse(text));
  } catch {
    return undefined;
  }
}
