import type { MasterAnswer, NameStatus, NodeEntry, PendingWork, StatusReport, VmStatus } from "./types.ts";

// PURE: `status` as text. Colors are an argument (the CLI passes true only
// for a terminal without NO_COLOR, useColor below), so every line can be
// table-tested with and without them.

export interface RenderOptions {
  color: boolean;
}

/** Color only on a terminal, and never when NO_COLOR is set to anything but "" (no-color.org). */
export function useColor(
  isTTY: boolean | undefined,
  env: Readonly<Record<string, string | undefined>>,
): boolean {
  const noColor = env.NO_COLOR;
  return isTTY === true && (noColor === undefined || noColor === "") && env.TERM !== "dumb";
}

type Paint = (text: string) => string;
const sgr =
  (on: boolean, code: number): Paint =>
  (t) =>
    on ? `\x1b[${code}m${t}\x1b[0m` : t;

/** "42s", "3m", "2h5m", "3d4h". */
export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) {
    const m = Math.floor((s % 3600) / 60);
    return `${Math.floor(s / 3600)}h${m ? `${m}m` : ""}`;
  }
  const h = Math.floor((s % 86_400) / 3600);
  return `${Math.floor(s / 86_400)}d${h ? `${h}h` : ""}`;
}

const NOTES_MARK = "[notes]";

function answerText(m: MasterAnswer): string {
  if (m.error !== undefined) return `${m.master}: ? (${m.error})`;
  const value = m.exists ? m.addresses?.join(",") || "(no address)" : "(no such name)";
  const owner = m.owner && m.owner !== "ours" && m.owner !== "free" ? ` [${m.owner}]` : "";
  return `${m.master}: ${value}${owner}`;
}

function nameLine(n: NameStatus, p: { red: Paint; green: Paint }): string {
  const state = n.drift.length ? p.red(`drift: ${n.drift.join(", ")}`) : p.green("ok");
  const want = n.expected.length ? ` (want ${n.expected.join(",")})` : "";
  const mark = n.fromNotes ? ` ${NOTES_MARK}` : "";
  const lag = n.lagging?.length ? `  (still answered elsewhere: ${n.lagging.join(" ")})` : "";
  return `  ${n.name}${mark}  ${state}${n.drift.length ? want : ""}  ${n.masters.map(answerText).join("  ")}${lag}`;
}

function entryText(e: NodeEntry, withNode: boolean): string {
  const what = e.kind === "forward" ? e.key : `${e.kind} ${e.key}`;
  const left = e.graceSeconds === undefined ? "" : ` (grace, ${formatAge(e.graceSeconds)} left)`;
  return `${withNode ? `${e.node} ` : ""}${what} -> ${e.target}${left}`;
}

function vmLines(v: VmStatus, p: { red: Paint; green: Paint; yellow: Paint; bold: Paint }): string[] {
  const address = [v.address.ip, v.address.ip6].filter(Boolean).join(" ") || "no address";
  const source = `${v.address.source}${v.address.ip6Source ? `, ip6 ${v.address.ip6Source}` : ""}`;
  const moved =
    v.lastSwitchedTo && v.lastSwitchedTo !== v.node ? ` (last switched to ${v.lastSwitchedTo})` : "";
  const state = v.state === "running" ? p.green(v.state) : p.yellow(v.state);
  const head = `${p.bold(`VM ${v.vmid}`)}${v.fromNotes ? ` ${NOTES_MARK}` : ""}  ${state} on ${v.node ?? "-"}${moved}  ${address} (${source})`;
  const lines = [head, ...v.names.map((n) => nameLine(n, p))];
  if (v.present.length) lines.push(`  on ${v.node}: ${v.present.map((e) => entryText(e, false)).join(", ")}`);
  if (v.grace.length)
    lines.push(`  ${p.yellow("elsewhere")}: ${v.grace.map((e) => entryText(e, true)).join(", ")}`);
  return lines;
}

function pendingLine(w: PendingWork): string {
  const vm = w.vmid === undefined ? "" : `VM ${w.vmid}, `;
  const where = w.journal === "cluster" ? "cluster journal" : `${w.journal}'s journal`;
  return `  ${w.id} (${vm}${where}, ${formatAge(w.ageSeconds)} old, ${w.attempts} failed): ${w.reason}`;
}

export function renderStatus(r: StatusReport, opts: RenderOptions): string[] {
  const p = {
    red: sgr(opts.color, 31),
    green: sgr(opts.color, 32),
    yellow: sgr(opts.color, 33),
    bold: sgr(opts.color, 1),
  };
  const nodes = r.nodes.map(
    (n) =>
      `${n.name} ${n.publicIPv4}${n.online ? "" : ` ${p.red("(offline)")}`}${n.error ? ` ${p.red("(not read)")}` : ""}`,
  );
  const out = [`cluster ${r.quorate ? "quorate" : p.red("NOT quorate")}; nodes: ${nodes.join(", ")}`];
  for (const v of r.vms) out.push(...vmLines(v, p));
  if (r.pending.length) out.push(p.yellow("pending:"), ...r.pending.map(pendingLine));
  for (const line of r.notes) out.push(`notes ignored: ${line}`);
  for (const e of r.errors) out.push(p.red(`not read: ${e}`));
  if (r.vms.some((v) => v.fromNotes || v.names.some((n) => n.fromNotes)))
    out.push(`${NOTES_MARK}: from the guest's Notes, not the config file`);
  return out;
}
