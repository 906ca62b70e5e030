import type { ExampleTable } from "../../lib/cli-docs/examples.ts";

// Examples of `dns set|show|adopt|delete` (their --help, the man page; test/cli parses each one).
export const dnsExamples: ExampleTable = {
  "dns set": [
    { command: "pvemigrate-dns dns set www.example.org 192.0.2.30", explain: "point www at 192.0.2.30 (A)" },
    {
      command: "pvemigrate-dns dns set www.example.org 192.0.2.30 2001:db8::30 --expect 203.0.113.10",
      explain: "only if it still points at 203.0.113.10 (compare-and-swap)",
    },
    {
      command: "pvemigrate-dns dns set new.example.org 198.51.100.20 --expect none --ttl 300",
      explain: "create a name that must not exist yet, with a TTL of 300 s",
    },
  ],
  "dns show": [
    { command: "pvemigrate-dns dns show www.example.org", explain: "its records at every master candidate" },
  ],
  "dns adopt": [
    {
      command: "pvemigrate-dns dns adopt mail.example.org --dry-run",
      explain: "show the name at every master and the ownership TXT it would get; send nothing",
    },
    {
      command: "pvemigrate-dns dns adopt mail.example.org",
      explain: "add our TXT naming the VM whose dns: lists it (its A/AAAA stay as they are)",
    },
  ],
  "dns delete": [
    { command: "pvemigrate-dns dns delete old.example.org --json", explain: "remove an owned name, as JSON" },
  ],
};
