import type { Config } from "./types.ts";

// PURE: the few facts of the config a hookscript phase acts on, kept apart
// from the rest so the hook's cost does not grow with the guests. The config
// cache (cache.ts) stores this view in its header line; the hookscript reads
// that line and the file's text and never parses the normalized config, which
// at 10,000 guests is ~2.4 MB of JSON (~60 ms to read and parse per phase).
// What a phase needs: where this node's journal is (stateDir), where pmxcfs is
// (pveRoot: chained hookscripts), whether pre-start goes to the CLI (strict),
// whether this node is configured, and whether the file lists the VM.

export interface HookView {
  /** The config file it came from (absolute path). */
  source: string;
  strict: boolean;
  /** As configured: may contain "{node}" (hookViewForNode fills it in). */
  stateDir: string;
  pveRoot: string;
  /** The configured node names. */
  nodes: string[];
  /** The vmids the file lists, as ",101,102,": one substring search, no parse per guest. */
  vmids: string;
}

export function hookViewOf(config: Config): HookView {
  const ids = Object.keys(config.vms);
  return {
    source: config.source,
    strict: config.strict,
    stateDir: config.stateDir,
    pveRoot: config.pveRoot,
    nodes: Object.keys(config.nodes),
    vmids: ids.length ? `,${ids.join(",")},` : "",
  };
}

/** The view with this node's paths, as forNode (for-node.ts) makes them. */
export function hookViewForNode(view: HookView, node: string): HookView {
  return { ...view, stateDir: view.stateDir.replaceAll("{node}", node) };
}

/** Whether the file lists `vmid` (not a Notes block: only the API shows those). */
export function viewListsVm(view: HookView, vmid: number): boolean {
  return view.vmids.includes(`,${vmid},`);
}

/** A stored view, checked field by field: it comes from a file (root's, but written by any version). */
export function parseHookView(raw: unknown): HookView | undefined {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return undefined;
  const { source, strict, stateDir, pveRoot, nodes, vmids } = raw as Record<string, unknown>;
  if (typeof source !== "string" || typeof strict !== "boolean") return undefined;
  if (typeof stateDir !== "string" || typeof pveRoot !== "string" || typeof vmids !== "string")
    return undefined;
  if (!Array.isArray(nodes) || !nodes.every((n): n is string => typeof n === "string")) return undefined;
  return { source, strict, stateDir, pveRoot, nodes, vmids };
}
