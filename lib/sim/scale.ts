import type { SimVmInput } from "./cluster.ts";

// Many guests, cheaply, for the scale benchmark (bench/reconcile-scale.ts) and
// the linear-growth tests: the simulated cluster's guests and the config
// file's `vms` blocks that describe them, from one count. Each guest gets a
// static private IP, one name (DNS + SNI route) and one public port, all
// unique, so the config passes its cross-checks at any size; every block is
// one flow-style line, so 10,000 guests still fit pmxcfs's 1 MiB per file.

/** The first guest's vmid; guests are numbered on from there. */
export const SCALE_FIRST_VMID = 100;

/** A guest's block in the config file's `vms`. */
export interface ScaleVmBlock {
  ip: string;
  dns: string[];
  forward: string[];
  sni: string[];
}

/** Guest i's private IP on 10.10.0.0/16, skipping .0, .1 (the gateway) and .255 of every /24. */
export function scaleIp(i: number): string {
  return `10.10.${1 + Math.floor(i / 250)}.${2 + (i % 250)}`;
}

/** `count` running guests spread round-robin over `nodes`. */
export function scaleGuests(count: number, nodes: readonly string[]): SimVmInput[] {
  return Array.from({ length: count }, (_, i) => ({
    vmid: SCALE_FIRST_VMID + i,
    node: nodes[i % nodes.length]!,
  }));
}

/** The config's `vms` for the guests of scaleGuests(count, ...), names under `zone`. */
export function scaleVmBlocks(count: number, zone: string): Record<string, ScaleVmBlock> {
  // Public ports 10,000..60,000 and third octets up to 201: both stay valid.
  if (count > 50_000) throw new Error("scale: at most 50,000 guests");
  const vms: Record<string, ScaleVmBlock> = {};
  for (let i = 0; i < count; i++) {
    const vmid = SCALE_FIRST_VMID + i;
    const name = `g${vmid}.${zone}`;
    vms[String(vmid)] = {
      ip: scaleIp(i),
      dns: [name],
      forward: [`tcp/${10_000 + i}:22`],
      sni: [name],
    };
  }
  return vms;
}

/**
 * The `vms:` section as YAML text, one flow-style line per guest: the
 * `yaml` package's block style would need ~150 bytes a guest and 10,000
 * guests would no longer fit in 1 MiB.
 */
export function scaleVmsYaml(count: number, zone: string): string {
  const lines = ["vms:"];
  for (const [vmid, b] of Object.entries(scaleVmBlocks(count, zone))) {
    lines.push(
      `  ${vmid}: {ip: ${b.ip}, dns: [${b.dns.join(", ")}], forward: [${b.forward.join(", ")}], sni: [${b.sni.join(", ")}]}`,
    );
  }
  return `${lines.join("\n")}\n`;
}
