import { type Command, Help } from "commander";
import { describe, expect, it } from "vitest";
import { buildProgram, examples } from "../../bin/program.ts";
import { commandPath, unknownExampleKeys } from "../../lib/cli-docs/examples.ts";
import type { LoadedConfig } from "../../lib/config/load.ts";
import { cli } from "./run.ts";

// Every command's --help shows examples and --config, every example is a
// command line the parser accepts (so examples cannot drift from the
// options), and --config works after any command's name as well as before.

const help = new Help();
function visible(cmd: Command): Command[] {
  const children = help.visibleCommands(cmd).filter((c) => cmd.commands.includes(c));
  return [cmd, ...children.flatMap(visible)];
}
const commands = visible(buildProgram());
const key = (c: Command) => commandPath(c).join(" ");
const isLeaf = (c: Command) => c.commands.length === 0;
/** The demo builds its own cluster and reads no config file. */
const readsNoConfig = new Set(["demo"]);

/** A loader that records the path it was asked for and fails, so no command goes further. */
function recordingLoader() {
  const paths: (string | undefined)[] = [];
  const load = async (path?: string): Promise<LoadedConfig> => {
    paths.push(path);
    throw new Error("stop: recording loader");
  };
  return { paths, load };
}

describe("--help", () => {
  it.each(commands.map((c) => [key(c) || "(program)", c] as const))(
    "%s --help ends with examples and shows --config",
    async (_name, c) => {
      const r = await cli([...commandPath(c), "--help"]);
      expect(r.code).toBe(0);
      const after = r.stdout.split("\nExamples:\n")[1];
      expect(after, r.stdout).toBeDefined();
      expect(after).toMatch(/^ {2}\$ pvemigrate-dns /);
      if (!readsNoConfig.has(key(c))) expect(r.stdout).toMatch(/^ {2}--config <file> /m);
    },
  );

  it("every runnable command has examples of its own, and no example names a command that is gone", () => {
    const without = commands.filter((c) => isLeaf(c) && !examples[key(c)]?.length).map(key);
    expect(without).toEqual([]);
    expect(unknownExampleKeys(buildProgram(), examples)).toEqual([]);
  });

  it("every example parses against the definitions and runs the command it illustrates", async () => {
    for (const [path, list] of Object.entries(examples)) {
      for (const e of list) {
        const program = buildProgram();
        let ran: string | undefined;
        const stub = (c: Command) => {
          c.action((...args: unknown[]) => {
            ran = key(args.at(-1) as Command);
          });
          for (const sub of c.commands) stub(sub);
        };
        stub(program);
        const [name, ...args] = e.command.split(" ");
        expect(name).toBe("pvemigrate-dns");
        if (args.includes("--help")) {
          expect((await cli(args)).code, e.command).toBe(0);
          continue;
        }
        // With the actions stubbed: an unknown option or a missing argument throws.
        await program.parseAsync(["node", "pvemigrate-dns", ...args]).catch((err: Error) => {
          throw new Error(`example "${e.command}": ${err.message}`);
        });
        if (path === "") expect(ran, e.command).toBeDefined();
        else expect(ran, e.command).toBe(path);
      }
    }
  });
});

describe("--config", () => {
  const runnable = commands.filter((c) => isLeaf(c) && !readsNoConfig.has(key(c)));
  /** The command's first example: arguments it accepts. */
  const argsOf = (c: Command) => examples[key(c)]![0]!.command.split(" ").slice(1);

  it.each(runnable.map((c) => [key(c), c] as const))(
    "%s --config FILE hands FILE to the config loader",
    async (_name, c) => {
      const { paths, load } = recordingLoader();
      await cli([...argsOf(c), "--config", "/tmp/after-the-command.yaml"], load);
      expect(paths).toEqual(["/tmp/after-the-command.yaml"]);
    },
  );

  it("works before the command too, the last one given wins, and without it the loader decides ($PVEMIGRATE_DNS_CONFIG, the default)", async () => {
    const before = recordingLoader();
    await cli(["--config", "/tmp/before.yaml", "status"], before.load);
    expect(before.paths).toEqual(["/tmp/before.yaml"]);
    const both = recordingLoader();
    await cli(
      ["--config", "/tmp/first.yaml", "dns", "show", "www.example.org", "--config", "/tmp/last.yaml"],
      both.load,
    );
    expect(both.paths).toEqual(["/tmp/last.yaml"]);
    const none = recordingLoader();
    await cli(["plan"], none.load);
    expect(none.paths).toEqual([undefined]);
  });
});
