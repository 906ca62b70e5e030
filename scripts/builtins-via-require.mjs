// esbuild plugin: the bundles reach Node's built-in modules through require()
// (the banner's createRequire) instead of static `import { x } from "node:..."`.
// Why: ESM links every static import before running a single line, and a named
// export an old Node lacks (fs/promises' statfs came in 18.15; Debian 12.0
// shipped 18.13) fails that link with a SyntaxError stack, before the version
// check at the top of each entry (bin/check-node.ts, hooks/check-node.ts) can
// run; a hookscript failing like that at pre-start aborts the VM start. Through
// require(), a missing export is only undefined until used, so the check is
// always reached.
//
// Each stand-in also defers loading its built-in until one of its exports is
// first used: a getter per export name (the names of the building Node's
// module). Loading node:child_process, for one, loads net and dgram with it,
// ~2 ms of every start of a hookscript that spawns nothing in most phases.
import { createRequire, isBuiltin } from "node:module";

const requireHere = createRequire(import.meta.url);

/** A CommonJS module whose exports are getters that require() `id` on first use. */
function lazyStandIn(id) {
  const names = Object.keys(requireHere(id)).filter((n) => n !== "default" && n !== "__esModule");
  const getters = names
    .map(
      (n) =>
        `Object.defineProperty(exports, ${JSON.stringify(n)}, { enumerable: true, get: () => load()[${JSON.stringify(n)}] });`,
    )
    .join("\n");
  return `let real; const load = () => (real ??= require(${JSON.stringify(id)}));\n${getters}`;
}

/**
 * The same as an ES module of one small function per export, for the
 * hookscript: esbuild links named imports of an ES module directly and drops
 * the exports nobody imports, so the bundle keeps only the wrappers it calls
 * (hostname, spawn, createRequire, realpath, stat: test/build.test.ts), and
 * nothing is copied at start-up. The CommonJS stand-in above made esbuild's
 * __toESM copy a getter per export of the whole module for every importing
 * file (13 copies, ~400 properties, in each hookscript start).
 * A value, or a constructor (capitalised: `new` through a wrapper would break
 * instanceof), is read when the bundle starts, and only when some file imports
 * it (pure: otherwise dropped); that loads its built-in then, as a static import would.
 */
function lazyFunctionStandIn(id) {
  const real = requireHere(id);
  const names = Object.keys(real).filter((n) => n !== "default" && n !== "__esModule");
  const exports = names.map((n) =>
    typeof real[n] === "function" && !/^[A-Z]/.test(n)
      ? `export function ${n}(...args) { return load().${n}(...args); }`
      : `export const ${n} = /* @__PURE__ */ pick(${JSON.stringify(n)});`,
  );
  return [
    `let real;`,
    `const load = () => (real ??= require(${JSON.stringify(id)}));`,
    `const pick = (name) => load()[name];`,
    `export default /* @__PURE__ */ load();`,
    ...exports,
  ].join("\n");
}

const NAMESPACE = "builtin-via-require";

/**
 * The plugin; `eager` names built-ins left as plain require()s at the top of a
 * CommonJS bundle (the hookscript's: node:fs and node:path, which every Node
 * start has loaded already, and which each phase uses: a stand-in would only
 * add a getter per export, copied once more by esbuild's __toESM).
 * `functions`: ES module stand-ins of one wrapper per function (lazyFunctionStandIn).
 */
export function builtinsViaRequireExcept(eager = [], { functions = false } = {}) {
  const plain = new Set(eager.flatMap((id) => [id, `node:${id}`]));
  return {
    name: "builtins-via-require",
    setup(b) {
      b.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) => {
        if (!isBuiltin(args.path)) return undefined;
        if (plain.has(args.path)) return { path: args.path, external: true };
        // The require() inside the stand-in module is the real, external one.
        if (args.namespace === NAMESPACE) return { path: args.path, external: true };
        return { path: args.path, namespace: NAMESPACE };
      });
      b.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => ({
        contents: functions ? lazyFunctionStandIn(args.path) : lazyStandIn(args.path),
        loader: "js",
      }));
    },
  };
}

export const builtinsViaRequire = builtinsViaRequireExcept();
