import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Command, Help } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProgram, examples } from "../../bin/program.ts";
import { commandPath } from "../../lib/cli-docs/examples.ts";
import { exitCodeMeanings } from "../../lib/errors.ts";
import { missing } from "../support/requirements.ts";
import { cli } from "./run.ts";

// The bash completion and the man page come from the commander definitions:
// the expectations here walk the registered commands themselves (nothing
// listed by hand), so a command added anywhere must show up in both. And
// bash really completes: the script is sourced and its function called the
// way bash calls it, with COMP_WORDS/COMP_CWORD.

const root = join(import.meta.dirname, "..", "..");
const program = buildProgram();
const help = new Help();

/** Every visible command with its path (the root as []), depth first. */
function visible(cmd: Command): Command[] {
  const children = help.visibleCommands(cmd).filter((c) => cmd.commands.includes(c));
  return [cmd, ...children.flatMap(visible)];
}
const longNames = (cmd: Command) =>
  cmd.options.filter((o) => !o.hidden).flatMap((o) => (o.long ? [o.long] : []));

let dir: string;
let script: string;
let man: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pvemigrate-docs-"));
  script = join(dir, "pvemigrate-dns.bash");
  const c = await cli(["completion", "bash"]);
  expect(c.code, c.stderr).toBe(0);
  writeFileSync(script, c.stdout);
  const m = await cli(["man"]);
  expect(m.code, m.stderr).toBe(0);
  man = m.stdout;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the completion function for each word list (cursor on the last word); one reply per case. */
function complete(cases: string[][], cwd = dir): string[][] {
  const calls = cases.map((words) => {
    const quoted = words.map((w) => `'${w.replaceAll("'", `'\\''`)}'`).join(" ");
    return `COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _pvemigrate_dns; echo "\${COMPREPLY[*]}"`;
  });
  const out = execFileSync(
    "bash",
    ["--norc", "--noprofile", "-c", `source "$1"\n${calls.join("\n")}`, "bash", script],
    {
      cwd,
      encoding: "utf8",
    },
  );
  return out
    .split("\n")
    .slice(0, cases.length)
    .map((l) => (l === "" ? [] : l.split(" ")));
}

describe("bash completion", () => {
  it("registers a complete -F function for the program", () => {
    const out = execFileSync(
      "bash",
      ["--norc", "-c", 'source "$1"; complete -p pvemigrate-dns', "bash", script],
      {
        encoding: "utf8",
      },
    );
    expect(out.trim()).toBe("complete -F _pvemigrate_dns pvemigrate-dns");
  });

  it("completes every registered command's subcommands and every option of every command", () => {
    const commands = visible(program);
    const replies = complete(
      commands.flatMap((c) => [
        ["pvemigrate-dns", ...commandPath(c), ""],
        ["pvemigrate-dns", ...commandPath(c), "--"],
      ]),
    );
    expect(commands.length).toBeGreaterThan(10);
    commands.forEach((c, i) => {
      const subs = help
        .visibleCommands(c)
        .filter((s) => c.commands.includes(s))
        .map((s) => s.name());
      const [words, options] = [replies[2 * i]!, replies[2 * i + 1]!];
      if (subs.length) expect(words, commandPath(c).join(" ")).toEqual(subs);
      // Every long option, plus commander's --help.
      expect(options.sort(), commandPath(c).join(" ")).toEqual([...longNames(c), "--help"].sort());
    });
  });

  it("offers only the subcommands matching the word typed, after options and their values", () => {
    expect(
      complete([
        ["pvemigrate-dns", "dns", "s"],
        ["pvemigrate-dns", "--config", "x.yaml", "pro"],
        ["pvemigrate-dns", "proxy", "config", "--n"],
        ["pvemigrate-dns", "dns", "set", "www.example.org", "--t"],
        ["pvemigrate-dns", "dns", "set", "--ttl", ""],
        ["pvemigrate-dns", "demo", "--no"],
      ]),
    ).toEqual([["set", "show"], ["proxy"], ["--nginx", "--node"], ["--ttl"], [], ["--no-netns"]]);
  });

  it("completes file names after --config and directories only after doctor --root", () => {
    mkdirSync(join(dir, "conf"));
    writeFileSync(join(dir, "cluster.yaml"), "");
    writeFileSync(join(dir, "cfile"), "");
    const [config, dirOnly, afterEquals] = complete([
      ["pvemigrate-dns", "status", "--config", "c"],
      ["pvemigrate-dns", "doctor", "--root", "c"],
      ["pvemigrate-dns", "plan", "--config", "=", "cl"],
    ]);
    expect(config?.sort()).toEqual(["cfile", "cluster.yaml", "conf"]);
    expect(dirOnly).toEqual(["conf"]);
    expect(afterEquals).toEqual(["cluster.yaml"]);
  });
});

/** The man page's section of one command: from its .SS line to the next .SS or .SH. */
function manSection(path: string[]): string {
  const title = ["pvemigrate-dns", ...path].join(" ").replaceAll("-", "\\-");
  const start = man.indexOf(`.SS "${title} `);
  expect(start, title).toBeGreaterThan(0);
  const rest = man.slice(start + 4);
  const end = rest.search(/^\.S[SH] /m);
  return rest.slice(0, end);
}

describe("man page", () => {
  it("has a section per registered command naming each of its options and arguments", () => {
    for (const c of visible(program).slice(1)) {
      const section = manSection(commandPath(c));
      expect(section).toContain(c.description().slice(0, 30));
      for (const long of longNames(c))
        expect(section, `${commandPath(c).join(" ")} ${long}`).toContain(
          `\\fB${long.replaceAll("-", "\\-")}\\fR`,
        );
      for (const a of c.registeredArguments) expect(section).toContain(`\\fI${a.name()}`);
    }
    const top = man.slice(man.indexOf(".SH OPTIONS"), man.indexOf(".SH COMMANDS"));
    for (const long of longNames(program)) expect(top).toContain(long.replaceAll("-", "\\-"));
  });

  it("lists every example, the exit codes of README's table, the config file and the state directory", () => {
    for (const list of Object.values(examples))
      for (const e of list) expect(man).toContain(e.command.replaceAll("-", "\\-"));
    const readmeCodes = [
      ...readFileSync(join(root, "README.md"), "utf8").matchAll(/^\| (\d) \| (.+) \|$/gm),
    ].map((m) => [Number(m[1]), m[2]!.replaceAll("`", "")]);
    expect(readmeCodes).toEqual(Object.entries(exitCodeMeanings).map(([k, v]) => [Number(k), v]));
    const exit = man.slice(man.indexOf(".SH EXIT STATUS"), man.indexOf(".SH ENVIRONMENT"));
    for (const [code, meaning] of readmeCodes) expect(exit).toContain(`.TP\n\\fB${code}\\fR\n${meaning}`);
    const files = man.slice(man.indexOf(".SH FILES"), man.indexOf(".SH EXAMPLES"));
    expect(files).toContain("/etc/pve/pvemigrate\\-dns.yaml");
    expect(files).toContain("/var/lib/pvemigrate\\-dns");
  });

  it.skipIf(missing({ bins: ["groff"] }))("groff renders it without a warning (-ww)", () => {
    const file = join(dir, "pvemigrate-dns.1");
    writeFileSync(file, man);
    const r = spawnSync("groff", ["-man", "-Tutf8", "-ww", "-z", file], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    const text = execFileSync("groff", ["-man", "-Tascii", "-P", "-cbou", file], { encoding: "utf8" });
    expect(text).toMatch(/^NAME\n\s+pvemigrate-dns\s+-\s+move a Proxmox VM/m);
    expect(text).toMatch(/^EXIT STATUS$/m);
    // A broken page does warn: the check can fail.
    writeFileSync(file, `${man}\n.XY bogus\n`);
    expect(spawnSync("groff", ["-man", "-Tutf8", "-ww", "-z", file], { encoding: "utf8" }).stderr).toMatch(
      /XY/,
    );
  });
});
