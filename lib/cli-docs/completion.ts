import { type CommandDoc, flatten, type ValueKind } from "./model.ts";

// PURE: a bash completion script from the command model. bash asks a
// `complete -F` function with the words typed so far; the function finds the
// command path those words name (skipping options and their values) and
// offers that command's subcommands or options, or files/dirs/choices after
// an option that takes one. Generated case tables, no bash-completion package
// needed.

/** Single-quoted for bash. */
const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

function valueWord(v: ValueKind | undefined): string {
  if (v === undefined) return "text";
  return v.kind === "oneOf" ? `oneOf ${v.choices.join(" ")}` : v.kind;
}

/** `name` as a bash identifier: pvemigrate-dns -> _pvemigrate_dns. */
export function completionFunctionName(program: string): string {
  return `_${program.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

export function renderBashCompletion(program: CommandDoc, name: string, version: string): string {
  const fn = completionFunctionName(name);
  const all = flatten(program);
  const key = (d: CommandDoc) => d.path.join(" ");
  const childCases = all.flatMap((d) =>
    d.subcommands.flatMap((c) =>
      [c.path.at(-1)!, ...c.aliases].map((word) => `    ${q(`${key(d)}/${word}`)}) echo ${q(key(c))} ;;`),
    ),
  );
  const valueCases = all.flatMap((d) =>
    d.options
      .filter((o) => o.valueName !== undefined)
      .flatMap((o) => o.names.map((n) => `    ${q(`${key(d)}/${n}`)}) echo ${q(valueWord(o.value))} ;;`)),
  );
  const listCases = (words: (d: CommandDoc) => string[]) =>
    all.map((d) => `    ${q(key(d))}) echo ${q(words(d).join(" "))} ;;`);
  return `# bash completion for ${name} ${version}, generated from its command definitions
# (${name} completion bash): change the commands, not this file.

# The command path a word leads to from command path $1, or nothing.
${fn}_child() {
  case "$1/$2" in
${childCases.join("\n")}
  esac
}

# What option $2 of command path $1 takes: file, dir, text or "oneOf A B"; nothing for a flag.
# The program's own options are accepted after any command.
${fn}_value() {
  case "$1/$2" in
${valueCases.join("\n")}
    *) if [[ -n $1 ]]; then ${fn}_value '' "$2"; fi ;;
  esac
}

${fn}_subcommands() {
  case "$1" in
${listCases((d) => d.subcommands.flatMap((c) => [c.path.at(-1)!, ...c.aliases])).join("\n")}
  esac
}

${fn}_options() {
  case "$1" in
${listCases((d) => d.options.flatMap((o) => o.names)).join("\n")}
  esac
}

${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev='' path='' i w child value words
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if [[ $w == -* ]]; then
      # An option that takes a value consumes the next word (unless written --opt=value).
      if [[ $w != *=* && -n $(${fn}_value "$path" "$w") ]]; then i=$((i + 1)); fi
      continue
    fi
    child=$(${fn}_child "$path" "$w")
    if [[ -n $child ]]; then path=$child; fi
  done
  if ((COMP_CWORD > 1)); then prev=\${COMP_WORDS[COMP_CWORD - 1]}; fi
  # bash splits --opt=value at "=" (COMP_WORDBREAKS): the option is then two words back.
  if [[ $prev == "=" && COMP_CWORD -gt 2 ]]; then prev=\${COMP_WORDS[COMP_CWORD - 2]}; fi
  if [[ $prev == -* ]]; then
    value=$(${fn}_value "$path" "$prev")
    case $value in
      file) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return 0 ;;
      dir) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$cur"); return 0 ;;
      "oneOf "*) mapfile -t COMPREPLY < <(compgen -W "\${value#oneOf }" -- "$cur"); return 0 ;;
      text) return 0 ;;
    esac
  fi
  words=$(${fn}_subcommands "$path")
  if [[ $cur == -* || -z $words ]]; then words=$(${fn}_options "$path"); fi
  mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
  return 0
}

complete -F ${fn} ${name}
`;
}
