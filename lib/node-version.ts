// The oldest Node.js the bundles run on, and the pure comparison behind the
// one-line refusal at the top of each entry (bin/check-node.ts,
// hooks/check-node.ts). Proxmox VE 8 (Debian 12) ships nodejs 18.19+ and
// Proxmox VE 9 (Debian 13) 20.19; the bundles target node18 and CI runs their
// smoke tests under 18.19.0 (test/node18.test.ts). This module must stay free
// of imports: it runs before anything else is evaluated.

/** The minimum, as [major, minor, patch]. */
export const MIN_NODE: readonly [number, number, number] = [18, 19, 0];

/**
 * The refusal line (without the program prefix) when `version` (as in
 * `process.versions.node`, e.g. "16.20.2") is older than `minimum`, else
 * undefined. A version that does not parse is let through: refusing to run on
 * a Node we cannot read would be worse than trying.
 */
export function nodeVersionProblem(
  version: string,
  minimum: readonly [number, number, number] = MIN_NODE,
): string | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return undefined;
  const have = [Number(m[1]), Number(m[2]), Number(m[3])];
  for (let i = 0; i < 3; i++) {
    const h = have[i] as number;
    const want = minimum[i] as number;
    if (h > want) return undefined;
    if (h < want) break;
    if (i === 2) return undefined;
  }
  const shown = minimum[2] === 0 ? `${minimum[0]}.${minimum[1]}` : minimum.join(".");
  return `Node.js >= ${shown} required, this is ${version}`;
}
