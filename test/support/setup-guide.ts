import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

// The DNS server setup guide (docs/DNS-SERVERS.md) is tested, not just
// written: each copy-paste block is marked `<!-- snippet: NAME -->` and the
// fixtures build their daemons' config from that very text, so a snippet that
// stops working fails a test instead of a user's first migration.

const GUIDE = fileURLToPath(new URL("../../docs/DNS-SERVERS.md", import.meta.url));

/** The body of the fenced block right after `<!-- snippet: name -->`. */
export function guideSnippet(name: string): string {
  const text = readFileSync(GUIDE, "utf8");
  const marker = `<!-- snippet: ${name} -->\n`;
  const at = text.indexOf(marker);
  if (at < 0) throw new Error(`docs/DNS-SERVERS.md has no snippet "${name}"`);
  const block = /^```[a-z]*\n([\s\S]*?)^```$/m.exec(text.slice(at + marker.length));
  if (!block?.[1])
    throw new Error(`snippet "${name}" in docs/DNS-SERVERS.md is not followed by a code block`);
  return block[1];
}

/** Replaces each documented value with the test's one; fails when the guide no longer holds it. */
export function substitute(text: string, replacements: Record<string, string>): string {
  let out = text;
  for (const [from, to] of Object.entries(replacements)) {
    if (!out.includes(from)) throw new Error(`snippet no longer contains "${from}": update the test fixture`);
    out = out.split(from).join(to);
  }
  return out;
}

/** The text between `<<EOF` and `EOF` of a heredoc snippet. */
export function heredocBody(snippet: string): string {
  const m = /<<EOF\n([\s\S]*?)^EOF$/m.exec(snippet);
  if (!m?.[1]) throw new Error("snippet holds no <<EOF heredoc");
  return m[1];
}

/**
 * One snippet command line as an argument array: words split on spaces,
 * single or double quotes grouping (enough for the guide's own commands; no shell runs them).
 */
export function commandWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) words.push(m[1] ?? m[2] ?? m[3] ?? "");
  return words;
}
