// PURE: the one shape every planner speaks (nft, proxy, DNS), after
// external-dns' `plan.Changes` and octoDNS' `Plan`: a change is plain data
// (what, where, from what, to what), so a plan can be printed, compared,
// checked for safety and applied as it is. Text is only rendered from it,
// here, at the edge.

export type ChangeOp = "add" | "update" | "remove";
export type ChangeBackend = "nat" | "proxy" | "dns";

export interface Change {
  op: ChangeOp;
  backend: ChangeBackend;
  /** The node whose nft/proxy it changes; absent for DNS (cluster-wide). */
  node?: string;
  vmid?: number;
  /** What is changed: "tcp/2222", "sni mail.example.org", "mail.example.org", "table ip pvemigrate". */
  key: string;
  /** What the key holds now (update, remove). */
  before?: string;
  /** What the key will hold (add, update). */
  after?: string;
  /** Why, or what else, for a human: "masquerade 10.10.0.0/16 on eno1". */
  note?: string;
}

const SIGN: Record<ChangeOp, string> = { add: "+", update: "~", remove: "-" };

/** "+ tcp/2222 -> 10.10.1.101:22 (vm 101)", "~ key -> after (was before)", "- key -> before". */
export function renderChange(c: Change): string {
  const value = c.op === "remove" ? c.before : c.after;
  const to = value === undefined ? "" : ` -> ${value}`;
  const was = c.op === "update" && c.before !== undefined ? ` (was ${c.before})` : "";
  const note = c.note === undefined ? "" : ` (${c.note})`;
  return `${SIGN[c.op]} ${c.key}${to}${was}${note}`;
}

/** renderChange with the node backend in front ("nat: + tcp/2222 -> ..."); DNS lines as they are. */
export function describeChange(c: Change): string {
  return c.backend === "dns" ? renderChange(c) : `${c.backend}: ${renderChange(c)}`;
}

/** A plan's changes, then its warnings as "! ..." lines: what a human reads. */
export function renderPlan(plan: { changes: readonly Change[]; warnings?: readonly string[] }): string[] {
  return [...plan.changes.map(renderChange), ...(plan.warnings ?? []).map((w) => `! ${w}`)];
}

export interface ChangeCounts {
  add: number;
  update: number;
  remove: number;
}

export function countChanges(changes: readonly Change[]): ChangeCounts {
  const counts = { add: 0, update: 0, remove: 0 };
  for (const c of changes) counts[c.op] += 1;
  return counts;
}

/** terraform's summary line. */
export function summaryLine(changes: readonly Change[]): string {
  const n = countChanges(changes);
  return `Plan: ${n.add} to add, ${n.update} to change, ${n.remove} to remove.`;
}
