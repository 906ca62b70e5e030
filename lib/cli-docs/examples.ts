import type { Command } from "commander";

// Usage examples live in one table per command file, keyed by the command's
// path; the same table feeds each command's --help, the man page's EXAMPLES
// and the tests that parse every example against the real definitions, so an
// example cannot name an option that does not exist.

export interface Example {
  /** A whole command line, starting with the program's name. */
  command: string;
  /** What it does, one short line. */
  explain: string;
}

/** Examples by command path without the program's name ("dns set", "status"). */
export type ExampleTable = Readonly<Record<string, readonly Example[]>>;

/** The path of a command below the root: ["dns", "set"]. */
export function commandPath(cmd: Command): string[] {
  const path: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) path.unshift(c.name());
  return path;
}

/** Every command below `root`, depth first (the root itself excluded). */
export function allCommands(root: Command): Command[] {
  return root.commands.flatMap((c) => [c, ...allCommands(c)]);
}

/** The "Examples:" block shown after a command's --help. */
export function examplesHelpText(examples: readonly Example[]): string {
  if (examples.length === 0) return "";
  return `\nExamples:\n${examples.map((e) => `  $ ${e.command}\n      ${e.explain}`).join("\n")}\n`;
}

/** A command's own examples; a group without its own shows the first of each subcommand's. */
export function examplesFor(cmd: Command, table: ExampleTable): readonly Example[] {
  const own = table[commandPath(cmd).join(" ")];
  if (own?.length || !cmd.parent) return own ?? [];
  return cmd.commands.flatMap((c) => examplesFor(c, table).slice(0, 1));
}

/** Adds each command's examples (and the program's own) to its --help. */
export function attachExamples(root: Command, table: ExampleTable): void {
  for (const cmd of [root, ...allCommands(root)]) {
    const examples = examplesFor(cmd, table);
    if (examples.length) cmd.addHelpText("after", examplesHelpText(examples));
  }
}

/** Table keys that name no registered command (a renamed command left its examples behind). */
export function unknownExampleKeys(root: Command, table: ExampleTable): string[] {
  const known = new Set([root, ...allCommands(root)].map((c) => commandPath(c).join(" ")));
  return Object.keys(table).filter((k) => !known.has(k));
}
