import type { HooksChangeReport } from "./apply.ts";
import type { FileCheck } from "./files.ts";
import type { HooksStatusReport } from "./status.ts";

// PURE: the text `hooks` prints; --json prints the reports themselves.

const where = (g: { type?: string; node?: string }) => `${g.type ?? "guest"} on ${g.node ?? "?"}`;

function file(f: FileCheck | undefined): string {
  if (!f) return "";
  const detail = f.detail ?? (f.state === "ok" ? undefined : f.path);
  return `, file ${f.state}${detail ? ` (${detail})` : ""}`;
}

export function renderStatus(r: HooksStatusReport): string[] {
  const lines = r.guests.map((g) => {
    const head = `VM ${g.vmid} ${where(g)}: ${g.hookscript}`;
    if (g.error) return `${head}: ${g.error}`;
    const chained = g.chained ? `; chained ${g.chained.volid}${file(g.chained.file)}` : "";
    return `${head}${g.volid ? ` ${g.volid}` : ""}${file(g.file)}${chained}`;
  });
  if (r.missing.length)
    lines.push(`configured but not shown by the API: ${r.missing.map((v) => `VM ${v}`).join(", ")}`);
  return lines;
}

export function renderChange(r: HooksChangeReport): string[] {
  const lines = r.guests.map((g) => {
    const command = g.command ? ` [${g.command.join(" ")}${g.ranOn ? ` on ${g.ranOn}` : ""}]` : "";
    const tag = g.outcome === "failed" ? "FAILED: " : r.dryRun && g.outcome !== "unchanged" ? "would: " : "";
    return `${tag}${g.message}${command}`;
  });
  if (r.missing.length)
    lines.push(`configured but not shown by the API: ${r.missing.map((v) => `VM ${v}`).join(", ")}`);
  return lines;
}
