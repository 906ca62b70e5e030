#!/usr/bin/env node
// Proxmox VE guest hookscript: `<script> <vmid> <phase>`.
// Install: copy dist/hookscript.mjs to a storage with snippets content and
//   qm set <vmid> --hookscript local:snippets/pvemigrate-dns.mjs
import { runHook } from "../lib/orchestrate/hook.ts";

const code = await runHook(process.argv.slice(2), { env: process.env });
// Exit now, not when the event loop drains: Proxmox waits for this process,
// and a request abandoned at strict pre-start's deadline may still hold a
// socket open. stderr (a pipe or the worker's log file) is written synchronously.
process.exit(code);
