import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SimVm } from "./state.ts";

// The guest config files of the simulated cluster in a pmxcfs-like tree
// (`<root>/nodes/<node>/qemu-server/<vmid>.conf`, `.../lxc/<vmid>.conf`), so
// code that looks at where a config lives (the hook's worker) sees exactly
// what a node sees in /etc/pve: the file moves with one rename
// (PVE::AbstractConfig::move_config_to_node) at the moment Proxmox moves it.
// Without a root nothing is written.

const dirOf = (type: SimVm["type"]) => (type === "qemu" ? "qemu-server" : "lxc");

/** The config file's text: Notes as `#` lines, then `key: value` lines, the lock among them (PVE::QemuServer::write_vm_config). */
function render(vm: SimVm): string {
  const notes = String(vm.config.description ?? "");
  const lines = notes ? notes.split("\n").map((l) => `#${l}`) : [];
  lines.push(
    ...Object.entries(vm.config)
      .filter(([k]) => k !== "description")
      .map(([k, v]) => `${k}: ${v}`),
  );
  if (vm.lock) lines.push(`lock: ${vm.lock}`);
  return `${lines.join("\n")}\n`;
}

export class SimPmxcfs {
  readonly root: string | undefined;

  constructor(root: string | undefined, nodes: string[]) {
    this.root = root;
    if (!root) return;
    for (const node of nodes) {
      for (const dir of ["qemu-server", "lxc"])
        mkdirSync(join(root, "nodes", node, dir), { recursive: true });
    }
  }

  path(vm: Pick<SimVm, "vmid" | "type">, node: string): string | undefined {
    return this.root && join(this.root, "nodes", node, dirOf(vm.type), `${vm.vmid}.conf`);
  }

  /** Writes the config where it lives now (via a temp file and rename, like pmxcfs writers). */
  write(vm: SimVm): void {
    const file = this.path(vm, vm.node);
    if (!file) return;
    writeFileSync(`${file}.tmp`, render(vm));
    renameSync(`${file}.tmp`, file);
  }

  move(vm: SimVm, from: string): void {
    const src = this.path(vm, from);
    const dst = this.path(vm, vm.node);
    if (!src || !dst) return;
    renameSync(src, dst);
  }

  remove(vm: SimVm): void {
    const file = this.path(vm, vm.node);
    if (file) rmSync(file, { force: true });
  }
}
