// Imported FIRST by hooks/hookscript.ts, so in the bundle this runs before any
// other module's code. On a Node.js older than the minimum the hook logs one
// line and exits 0: Proxmox runs pre-start with stop_on_error, so a non-zero
// exit there aborts the VM start (qemu-server src/PVE/QemuServer.pm
// vm_start_nolock calls exec_hookscript($conf, $vmid, 'pre-start', 1);
// pve-guest-common src/PVE/GuestHelpers.pm exec_hookscript dies on a failed
// script when $stop_on_error is set). Our own failures never fail a start: the
// VM runs, its public face does not move, and the CLI (reconcile's timer,
// doctor) refuses with the same line, which is where an admin sees it.
import { nodeVersionProblem } from "../lib/node-version.ts";

const problem = nodeVersionProblem(process.versions.node);
if (problem) {
  process.stderr.write(`pvemigrate-dns: hook: ${problem}; doing nothing\n`);
  process.exit(0);
}
