#!/usr/bin/env node
// Proxmox VE guest hookscript: `<script> <vmid> <phase>`.
// Install: packaging/install.sh copies dist/hookscript.mjs to a storage with
// snippets content, replacing the `#!/usr/bin/env node` line with node's
// absolute path (Proxmox runs hooks with PATH=/sbin:/bin:/usr/sbin:/usr/bin,
// where env finds no node from /usr/local/bin, nvm or n), then
//   qm set <vmid> --hookscript local:snippets/pvemigrate-dns.mjs
// First: on a too-old Node.js, log and exit 0 before any other module runs.
import "./check-node.ts";
import { runHook } from "../lib/orchestrate/hook.ts";

const code = await runHook(process.argv.slice(2), { env: process.env });
// Exit now, not when the event loop drains: Proxmox waits for this process,
// and a request abandoned at strict pre-start's deadline may still hold a
// socket open. stderr (a pipe or the worker's log file) is written synchronously.
process.exit(code);
