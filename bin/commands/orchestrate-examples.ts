import type { ExampleTable } from "../../lib/cli-docs/examples.ts";

// Examples of the orchestrator's commands (their --help, the man page; test/cli parses each one).
export const orchestrateExamples: ExampleTable = {
  apply: [
    { command: "pvemigrate-dns apply --local", explain: "converge this node's nft table and proxy maps now" },
    { command: "pvemigrate-dns apply --local --dry-run", explain: "show what it would change" },
  ],
  reconcile: [
    { command: "pvemigrate-dns reconcile", explain: "the timer's job: journaled work, moved VMs, drift" },
    { command: "pvemigrate-dns reconcile --dry-run --json", explain: "what it would do, as JSON" },
  ],
  plan: [
    {
      command: "pvemigrate-dns plan",
      explain:
        "what every node and DNS would change: No changes. (exit 0), or the changes and a summary (exit 4)",
    },
    {
      command: "pvemigrate-dns plan --node pve2 --json",
      explain: "the same from node pve2, as change objects",
    },
  ],
  switch: [
    {
      command: "pvemigrate-dns switch 101",
      explain: "point VM 101's forwards, routes and names at this node",
    },
    { command: "pvemigrate-dns switch 101 --from pve1", explain: "the same, letting pve1 grace-forward" },
  ],
  status: [
    { command: "pvemigrate-dns status", explain: "where each VM runs, where its names point, pending work" },
    { command: "pvemigrate-dns status --json", explain: "the same as JSON" },
  ],
  migrate: [
    {
      command: "pvemigrate-dns migrate 101 pve2",
      explain:
        "lower the TTL of VM 101's names, wait out the old one, live-migrate it to pve2, move its public face",
    },
    {
      command: "pvemigrate-dns migrate 101 pve2 --dry-run",
      explain: "check the move and print its steps, migrate nothing",
    },
    {
      command: "pvemigrate-dns migrate 101 pve2 --no-wait",
      explain: "migrate at once; the old node forwards until resolvers drop the old TTL",
    },
    { command: "pvemigrate-dns migrate 102 pve3 --offline", explain: "an offline migration" },
  ],
};
