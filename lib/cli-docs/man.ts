import { type CommandDoc, flatten, type OptionDoc } from "./model.ts";

// PURE: a man page (man(7) roff) from the command model plus the few facts
// the model cannot know (exit codes, environment, files). Plain macros only
// (.TH .SH .SS .TP .PP .RS .nf), so groff, mandoc and man-db all read it.

export interface ManPageInfo {
  name: string;
  version: string;
  /** .TH date, e.g. from SOURCE_DATE_EPOCH; empty keeps the build reproducible. */
  date?: string;
  /** DESCRIPTION paragraphs. */
  description: readonly string[];
  exitStatus: readonly { code: number; meaning: string }[];
  environment: readonly { name: string; meaning: string }[];
  files: readonly { path: string; meaning: string }[];
  /** Other man pages: ["haproxy", 1]. */
  seeAlso: readonly (readonly [string, number])[];
}

/** Backslashes escaped, no line starting with a control character. */
function roffEscape(s: string): string {
  return s
    .replaceAll("\\", "\\e")
    .split("\n")
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join("\n");
}

/** Prose: escaped, and paths never hyphenated at a line break (\%). */
export function roffText(s: string): string {
  return roffEscape(s).replace(/(^|[\s(])(?=\/\S)/g, "$1\\%");
}

/** Something typed literally (a command, an option, a path): its "-" are ASCII minus signs. */
const literal = (s: string) => roffEscape(s).replaceAll("-", "\\-");
const bold = (s: string) => `\\fB${literal(s)}\\fR`;
const italic = (s: string) => `\\fI${literal(s)}\\fR`;
/** A macro argument in double quotes. */
const quoted = (s: string) => `"${s.replaceAll('"', "\\(dq")}"`;

function optionTerm(o: OptionDoc): string {
  const names = o.names.map(bold).join(", ");
  if (o.valueName === undefined) return names;
  return /\[[^\]]+\]/.test(o.flags) ? `${names} [${italic(o.valueName)}]` : `${names} ${italic(o.valueName)}`;
}

function optionList(options: readonly OptionDoc[]): string[] {
  return options.flatMap((o) => [".TP", optionTerm(o), roffText(o.description)]);
}

function commandSection(name: string, d: CommandDoc): string[] {
  const title = [name, ...d.path, d.usage].join(" ");
  const lines = [`.SS ${quoted(literal(title))}`, roffText(d.description)];
  if (d.aliases.length) lines.push(".PP", `Alias: ${d.aliases.map(bold).join(", ")}.`);
  for (const a of d.arguments) {
    lines.push(".TP", italic(`${a.name}${a.variadic ? "..." : ""}`), roffText(a.description || "-"));
  }
  lines.push(...optionList(d.options.filter((o) => !o.builtin)));
  if (d.subcommands.length) {
    lines.push(".PP", `Subcommands: ${d.subcommands.map((c) => bold(c.path.at(-1)!)).join(", ")}.`);
  }
  return lines;
}

export function renderManPage(program: CommandDoc, info: ManPageInfo): string {
  const name = info.name;
  const commands = flatten(program).slice(1);
  const lines = [
    `.\\" Generated from ${name}'s command definitions (${name} man): change the commands, not this file.`,
    `.TH ${literal(name.toUpperCase())} 1 ${quoted(info.date ?? "")} ${quoted(literal(`${name} ${info.version}`))} "User Commands"`,
    ".SH NAME",
    `${literal(name)} \\- ${roffText(program.description)}`,
    ".SH SYNOPSIS",
    `${bold(name)} [${bold("--config")} ${italic("file")}] ${italic("command")} [${italic("options")}] [${italic("arguments")}]`,
    ".SH DESCRIPTION",
    ...info.description.flatMap((p, i) => [...(i ? [".PP"] : []), roffText(p)]),
    ".SH OPTIONS",
    ...optionList(program.options),
    ".SH COMMANDS",
    ...commands.flatMap((d) => commandSection(name, d)),
    ".SH EXIT STATUS",
    ...info.exitStatus.flatMap((e) => [".TP", bold(String(e.code)), roffText(e.meaning)]),
    ".SH ENVIRONMENT",
    ...info.environment.flatMap((e) => [".TP", bold(e.name), roffText(e.meaning)]),
    ".SH FILES",
    ...info.files.flatMap((f) => [".TP", italic(f.path), roffText(f.meaning)]),
    ".SH EXAMPLES",
    ...[program, ...commands].flatMap((d) =>
      d.examples.flatMap((e) => [".PP", roffText(e.explain), ".RS", ".nf", bold(e.command), ".fi", ".RE"]),
    ),
    ".SH SEE ALSO",
    info.seeAlso.map(([page, section]) => `${bold(page)}(${section})`).join(",\n"),
    "",
  ];
  return lines.join("\n");
}
