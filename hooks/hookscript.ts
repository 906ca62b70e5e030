#!/usr/bin/env node
// Proxmox VE guest hookscript: `<script> <vmid> <phase>`.
// Install: copy dist/hookscript.mjs to a storage with snippets content and
//   qm set <vmid> --hookscript local:snippets/pvemigrate-dns.mjs
import { runHook } from "../lib/orchestrate/hook.ts";

process.exitCode = await runHook(process.argv.slice(2), { env: process.env });
