import { type Command, Help, type Option } from "commander";
import { commandPath, type Example, type ExampleTable } from "./examples.ts";

// PURE: the commander definitions as plain data, the one input of the bash
// completion and the man page, so both list exactly the commands and options
// the parser accepts (a new command shows up in them by being registered).

/** What an option's value is, for completion: a file, a directory, one of a list, or free text. */
export type ValueKind =
  | { kind: "file" }
  | { kind: "dir" }
  | { kind: "oneOf"; choices: readonly string[] }
  | { kind: "text" };

export interface OptionDoc {
  /** As declared: "--config <file>", "-V, --version". */
  flags: string;
  /** Every spelling: ["--config"], ["-V", "--version"]. */
  names: string[];
  description: string;
  /** The value's name in the flags ("file"), when the option takes one. */
  valueName?: string;
  value?: ValueKind;
  mandatory: boolean;
  /** commander's own -h/--help, which every command has. */
  builtin: boolean;
}

export interface ArgumentDoc {
  name: string;
  description: string;
  required: boolean;
  variadic: boolean;
}

export interface CommandDoc {
  /** Below the program: [] for the program itself, ["dns", "set"]. */
  path: string[];
  aliases: string[];
  description: string;
  /** commander's usage line after the command's path: "[options] <vmid> <target>". */
  usage: string;
  arguments: ArgumentDoc[];
  options: OptionDoc[];
  examples: readonly Example[];
  subcommands: CommandDoc[];
}

function valueKind(valueName: string, choices: readonly string[] | undefined): ValueKind {
  if (choices?.length) return { kind: "oneOf", choices };
  if (/^(file|path)$/i.test(valueName)) return { kind: "file" };
  if (/^(dir|directory)$/i.test(valueName)) return { kind: "dir" };
  return { kind: "text" };
}

function describeOption(o: Option, builtin: boolean): OptionDoc {
  const valueName = /[<[]([^>\]]+)[>\]]/.exec(o.flags)?.[1]?.replace(/\.\.\.$/, "");
  return {
    flags: o.flags,
    names: [o.short, o.long].filter((n): n is string => n !== undefined),
    description: o.description,
    ...(valueName ? { valueName, value: valueKind(valueName, o.argChoices) } : {}),
    mandatory: o.mandatory,
    builtin,
  };
}

export function describeCommand(cmd: Command, examples: ExampleTable): CommandDoc {
  const help = new Help();
  const path = commandPath(cmd);
  // visibleCommands adds commander's implicit "help" command: not one of ours.
  const children = help.visibleCommands(cmd).filter((c) => cmd.commands.includes(c));
  return {
    path,
    aliases: cmd.aliases(),
    description: cmd.description(),
    usage: cmd.usage(),
    arguments: cmd.registeredArguments.map((a) => ({
      name: a.name(),
      description: a.description,
      required: a.required,
      variadic: a.variadic,
    })),
    // visibleOptions adds the built-in help option, the one not in cmd.options.
    options: help.visibleOptions(cmd).map((o) => describeOption(o, !cmd.options.includes(o))),
    examples: examples[path.join(" ")] ?? [],
    subcommands: children.map((c) => describeCommand(c, examples)),
  };
}

/** The command and everything below it, depth first. */
export function flatten(doc: CommandDoc): CommandDoc[] {
  return [doc, ...doc.subcommands.flatMap(flatten)];
}
