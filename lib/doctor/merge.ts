import { type Finding, ok, warn } from "./types.ts";

// PURE: `doctor --cluster` hears every node's own doctor. A problem several
// nodes see (a dead master, masters that disagree, a token without a
// privilege) is one problem: it is reported once, naming the nodes that saw
// it. The versions the nodes run are compared, not listed per node.

export interface NodeFindings {
  node: string;
  findings: readonly Finding[];
  /** The version the node's doctor reported, when it ran. */
  version?: string;
}

const keyOf = (f: Finding) => JSON.stringify([f.check, f.status, f.message, f.hint ?? ""]);

/** The message with the reporting nodes in front (a message that already starts with its one node keeps it). */
function named(f: Finding, nodes: string[]): Finding {
  const alone = nodes.length === 1 && f.message.startsWith(`${nodes[0]}: `);
  return { ...f, message: alone ? f.message : `${nodes.join(", ")}: ${f.message}`, nodes };
}

/** Identical findings (check, status, message, hint) from several nodes become one, in first-seen order. */
export function dedupeFindings(perNode: readonly NodeFindings[]): Finding[] {
  const groups = new Map<string, { finding: Finding; nodes: string[] }>();
  for (const { node, findings } of perNode)
    for (const f of findings) {
      if (f.check === "version") continue;
      const key = keyOf(f);
      const g = groups.get(key);
      if (!g) groups.set(key, { finding: f, nodes: [node] });
      else if (!g.nodes.includes(node)) g.nodes.push(node);
    }
  return [...groups.values()].map((g) => named(g.finding, g.nodes));
}

/** One finding about the versions: the same everywhere, or which node runs which. */
export function judgeVersions(perNode: readonly NodeFindings[]): Finding[] {
  const byVersion = new Map<string, string[]>();
  for (const { node, version } of perNode) {
    if (version === undefined) continue;
    byVersion.set(version, [...(byVersion.get(version) ?? []), node]);
  }
  if (byVersion.size === 0) return [];
  const [only] = byVersion.keys();
  if (byVersion.size === 1)
    return [
      ok(
        "version",
        `pvemigrate-dns ${only} on every node that answered (${byVersion.get(only ?? "")?.join(", ")})`,
      ),
    ];
  return [
    warn(
      "version",
      `nodes run different versions of pvemigrate-dns: ${[...byVersion].map(([v, nodes]) => `${v} on ${nodes.join(", ")}`).join("; ")}`,
      "install the same version on every node: the hook on one node and reconcile on another share the journal, the config and the names' ownership records",
    ),
  ];
}
