import type { ExampleTable } from "../../lib/cli-docs/examples.ts";

// Examples of `hooks attach|detach|status`, run as root on a node (their
// --help, the man page; test/cli parses each one).
export const hooksExamples: ExampleTable = {
  "hooks attach": [
    {
      command: "pvemigrate-dns hooks attach --all --dry-run",
      explain: "the qm/pct commands attach would run",
    },
    {
      command: "pvemigrate-dns hooks attach --all",
      explain: "ours on every configured guest that has no hookscript",
    },
    {
      command: "pvemigrate-dns hooks attach 103 --chain",
      explain: "keep 103's own hookscript; ours runs it first",
    },
  ],
  "hooks detach": [
    {
      command: "pvemigrate-dns hooks detach 101 102",
      explain: "remove ours (a chained hookscript is put back)",
    },
  ],
  "hooks status": [
    {
      command: "pvemigrate-dns hooks status",
      explain: "every configured guest: ours, other or none, and its files",
    },
    { command: "pvemigrate-dns hooks status 101 --json", explain: "one guest, as JSON" },
  ],
};
