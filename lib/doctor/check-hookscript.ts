import { getVmConfig } from "../cluster/index.ts";
import { messageOf } from "../errors.ts";
import { ownerOf } from "../hookscripts/plan.ts";
import { OUR_VOLID } from "../hookscripts/volume.ts";
import { observe } from "../orchestrate/observe.ts";
import type { Runtime } from "../orchestrate/runtime.ts";
import { type Finding, fail, ok, warn } from "./types.ts";

// A configured VM without our hookscript (none, or another one) only
// follows its migrations when the reconcile timer notices (up to a minute
// late): say which ones. Whether the file runs is check-hook-file.ts's.

const CONCURRENCY = 4;

/** A guest's config value is the tenant's text: bounded and on one line before it is shown. */
const quoted = (text: string) => JSON.stringify(text.slice(0, 120));

export async function checkHookscripts(rt: Runtime): Promise<Finding[]> {
  let world: Awaited<ReturnType<typeof observe>>;
  try {
    world = await observe(rt);
  } catch (err) {
    return [
      fail("hookscript", `cannot list the cluster's guests: ${messageOf(err)}`, "see the proxmox findings"),
    ];
  }
  const here = world.snapshot.vms.filter((vm) => vm.node === rt.self && world.config.vms[String(vm.vmid)]);
  if (here.length === 0) return [ok("hookscript", `no configured VM is on ${rt.self}`)];
  // Indexed by position, so the output is in VM order whichever worker finishes first.
  const findings: Finding[] = new Array(here.length);
  let next = 0;
  async function worker() {
    while (next < here.length) {
      const index = next++;
      const vm = here[index]!;
      const tool = vm.type === "lxc" ? "pct" : "qm";
      try {
        const config = await getVmConfig(rt.proxmox, vm);
        const hook = config.hookscript;
        const owner = ownerOf(hook, OUR_VOLID);
        findings[index] =
          owner === "ours"
            ? ok("hookscript", `VM ${vm.vmid} runs hookscript ${hook}`)
            : owner === "none"
              ? warn(
                  "hookscript",
                  `VM ${vm.vmid} has no hookscript: its moves are followed only by the reconcile timer`,
                  `${tool} set ${vm.vmid} --hookscript ${OUR_VOLID}`,
                )
              : warn(
                  "hookscript",
                  `VM ${vm.vmid} runs another hookscript (${quoted(hook ?? "")}), not ours: its moves are followed only by the reconcile timer`,
                  `pvemigrate-dns hooks attach ${vm.vmid} --chain (ours runs the other one first, with the same arguments)`,
                );
      } catch (err) {
        findings[index] = fail(
          "hookscript",
          `VM ${vm.vmid}: cannot read its config: ${messageOf(err)}`,
          "the token needs VM.Audit",
        );
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, here.length) }, worker));
  return findings;
}
