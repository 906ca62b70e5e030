#!/usr/bin/env node
// Placeholder until the orchestrator lands: Proxmox calls `<script> <vmid> <phase>`.
const [vmid, phase] = process.argv.slice(2);
process.stderr.write(`pvemigrate-dns hook: vm ${vmid ?? "?"} ${phase ?? "?"}\n`);
