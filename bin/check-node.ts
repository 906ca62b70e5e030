// Imported FIRST by bin/pvemigrate-dns.ts, so in the bundle this runs before
// any other module's code: on a Node.js older than the minimum the CLI says so
// in one line and exits 1 (invalid environment), instead of failing somewhere
// inside a dependency with a stack trace. The bundle links on old Nodes too
// (scripts/builtins-via-require.mjs), so this line is always reached.
import { nodeVersionProblem } from "../lib/node-version.ts";

const problem = nodeVersionProblem(process.versions.node);
if (problem) {
  process.stderr.write(`pvemigrate-dns: ${problem}\n`);
  process.exit(1);
}
