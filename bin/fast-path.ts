import { runDnsSetFast } from "./dns-set-fast.ts";

// What the launcher (bin/pvemigrate-dns.ts) runs `dns set` with. Unbundled
// (tsx, tests) it is bin/dns-set-fast.ts itself; in dist/ scripts/build.mjs
// puts in its place a module of the same exports that evaluates the fast
// path's own bundle through V8's code cache (bin/code-cache.ts).

export interface FastPath {
  runDnsSetFast(argv: readonly string[]): Promise<boolean>;
  /** Keeps what this run compiled for the next one (a no-op here). */
  saveCodeCache(): void;
}

export function loadFastPath(): FastPath {
  return { runDnsSetFast, saveCodeCache() {} };
}
