#!/usr/bin/env node
// First: refuses a too-old Node.js before any other module runs.
import "./check-node.ts";
import { runCli } from "./program.ts";

// The CLI's entry: the command tree and its exit codes are in bin/program.ts.

await runCli(process.argv);
